def test_pages(as_admin, as_staff):
    for url in ["/", "/users/list/", "/unitmodelview/list/", "/settings/list/", "/roles/list/", "/users/add", "/users/userinfo/"]:
        r = as_admin.get(url)
        print(url, r.status_code, len(r.text))
    for url in ["/", "/users/list/", "/unitmodelview/list/", "/settings/list/", "/users/userinfo/"]:
        r = as_staff.get(url)
        print("staff", url, r.status_code)
    open("/tmp/users.html","w").write(as_admin.get("/users/list/").text)
    open("/tmp/home.html","w").write(as_staff.get("/").text)
