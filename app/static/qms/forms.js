/* Every form speaks Vietnamese whatever the browser's language (issue 16):
   - date and time fields are text inputs taking dd/mm/yyyy and 24-hour HH:MM, with the
     bundled flatpickr calendar in Vietnamese (no network);
   - file inputs show a Vietnamese button and the chosen names instead of the browser's
     "Choose Files / No file chosen";
   - the searchable dropdown (select2) speaks the page's language, and a multiple select of
     class "qms-multi" becomes one (the attendees of a meeting);
   - a select of class "remote-choices" (a list's unit filter in an agency of many units:
     app/organisation/unit_filter.py) finds its choices as one types, from its data-url,
     also when FAB adds it to the list's filters after the page has loaded.
   The texts come from the page (#qms-ui-text), translated by the server. */
(function () {
  "use strict";
  var box = document.getElementById("qms-ui-text");
  var text = function (name) { return box ? box.getAttribute("data-" + name) || "" : ""; };
  var vietnamese = !box || (box.getAttribute("data-lang") || "vi").indexOf("vi") === 0;

  // --- select2: texts and placeholder ---------------------------------------------------
  if (window.jQuery && jQuery.fn.select2 && jQuery.fn.select2.defaults) {
    var constant = function (value) { return function () { return value; }; };
    jQuery.fn.select2.defaults.set("language", {
      errorLoading: constant(text("error-loading")),
      inputTooLong: constant(""), inputTooShort: constant(""),
      loadingMore: constant(text("loading-more")),
      maximumSelected: constant(""),
      noResults: constant(text("no-results")),
      searching: constant(text("searching")),
      removeAllItems: constant(text("remove-all")),
      removeItem: constant(text("remove-item"))
    });
    // FAB's ab.js asks for the English placeholder "Select a State" / "Select".
    var original = jQuery.fn.select2;
    var patched = function (options) {
      if (options && typeof options === "object" && /^Select/.test(options.placeholder || "")) {
        options = jQuery.extend({}, options, {placeholder: this.attr("data-placeholder") || text("choose")});
      }
      return original.apply(this, arguments.length ? [options].concat([].slice.call(arguments, 1)) : []);
    };
    jQuery.extend(patched, original);
    jQuery.fn.select2 = patched;
  }

  // --- date and time pickers --------------------------------------------------------------
  function isoToVietnamese(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || "");
    return m ? m[3] + "/" + m[2] + "/" + m[1] : value;
  }

  // dd/mm/yyyy read as it is: an impossible day (31/02) is no date at all, never rolled over
  // into the next month as flatpickr's own reading does (31/02/2026 would become 03/03/2026)
  function parseVietnameseDate(value) {
    var m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(String(value).trim());
    if (!m) { return undefined; }
    var day = new Date(+m[3], +m[2] - 1, +m[1]);
    return day.getFullYear() === +m[3] && day.getMonth() === +m[2] - 1 && day.getDate() === +m[1] ? day : undefined;
  }

  function locale() {
    var base = vietnamese && window.flatpickr && flatpickr.l10ns.vn ? flatpickr.l10ns.vn : {};
    return Object.assign({}, base, {
      firstDayOfWeek: 1,
      toggleTitle: text("toggle-title"), scrollTitle: text("scroll-title"),
      yearAriaLabel: text("year"), monthAriaLabel: text("month"),
      hourAriaLabel: text("hour"), minuteAriaLabel: text("minute"), weekAbbreviation: text("week")
    });
  }

  function setUpDates(root) {
    // a browser's own date/time input left anywhere becomes one of ours
    root.querySelectorAll("input[type=date]").forEach(function (input) {
      input.type = "text"; input.classList.add("qms-date"); input.value = isoToVietnamese(input.value);
      input.removeAttribute("max"); input.removeAttribute("min");
    });
    root.querySelectorAll("input[type=time]").forEach(function (input) {
      input.type = "text"; input.classList.add("qms-time");
    });
    if (!window.flatpickr) { return; }
    root.querySelectorAll("input.qms-date, input.qms-time").forEach(function (input) {
      if (input._flatpickr) { return; }
      var time = input.classList.contains("qms-time");
      input.value = time ? input.value : isoToVietnamese(input.value);
      input.setAttribute("autocomplete", "off");
      if (!input.getAttribute("placeholder")) { input.setAttribute("placeholder", time ? "HH:MM" : "dd/mm/yyyy"); }
      var format = time ? "H:i" : "d/m/Y";
      var options = {
        locale: locale(), allowInput: true, disableMobile: true, clickOpens: true,
        dateFormat: format, enableTime: time, noCalendar: time, time_24hr: true,
        monthSelectorType: "static", ariaDateFormat: "d/m/Y"
      };
      if (!time) { options.parseDate = parseVietnameseDate; }
      var picker = flatpickr(input, options);
      // what flatpickr cannot read (on blur, Enter, a click elsewhere) it would empty: the typed
      // text stays, for the server to refuse with its message
      var setDate = picker.setDate;
      picker.setDate = function (date) {
        var typed = input.value;
        setDate.apply(picker, arguments);
        if (typeof date === "string" && date === typed && !picker.selectedDates.length) { input.value = typed; }
      };
      // Escape closes the calendar while typing too (flatpickr leaves it open when input is allowed)
      input.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && picker.isOpen) { picker.close(); }
      });
      // a whole date (or time) typed: the calendar shows it and gets out of the way
      var whole = time ? /^\d{1,2}:\d{2}$/ : /^\d{1,2}\/\d{1,2}\/\d{4}$/;
      input.addEventListener("input", function () {
        if (whole.test(input.value.trim())) {
          var typed = input.value;
          picker.setDate(typed, false, format);
          picker.close();
          input.value = typed;  // exactly as typed, even a date the server will refuse
        }
      });
    });
  }

  // --- file inputs -----------------------------------------------------------------------
  function setUpFiles(root) {
    root.querySelectorAll("input[type=file]").forEach(function (input) {
      if (input.closest(".qms-file")) { return; }
      if (!input.id) { input.id = "qms-file-" + Math.random().toString(36).slice(2, 10); }
      var wrapper = document.createElement("span");
      wrapper.className = "qms-file";
      var button = document.createElement("label");
      button.className = "btn btn-default btn-sm qms-file-button";
      button.htmlFor = input.id;
      button.tabIndex = 0;
      button.textContent = input.multiple ? text("choose-files") : text("choose-file");
      var names = document.createElement("span");
      names.className = "qms-file-names";
      names.textContent = text("no-file");
      input.parentNode.insertBefore(wrapper, input);
      wrapper.appendChild(input); wrapper.appendChild(button); wrapper.appendChild(names);
      button.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); input.click(); }
      });
      input.addEventListener("change", function () {
        var files = Array.prototype.map.call(input.files || [], function (file) { return file.name; });
        names.textContent = files.length ? files.join(", ") : text("no-file");
      });
    });
  }

  // --- searchable multi-selects: <select multiple class="qms-multi"> -----------------------
  function setUpMultiSelects(root) {
    if (!(window.jQuery && jQuery.fn.select2)) { return; }
    jQuery(root).find("select.qms-multi").each(function () {
      var select = jQuery(this);
      if (select.data("select2")) { return; }
      select.select2({width: "100%", closeOnSelect: false,
                      placeholder: select.attr("data-placeholder") || text("choose")});
    });
  }

  // --- selects whose choices come as one types: <select class="remote-choices" data-url> --
  function setUpRemoteSelects(root) {
    if (!(window.jQuery && jQuery.fn.select2)) { return; }
    jQuery(root).find("select.remote-choices").addBack("select.remote-choices").each(function () {
      var select = jQuery(this);
      if (select.data("select2")) { return; }
      select.select2({
        allowClear: true, width: "resolve", placeholder: select.attr("data-placeholder") || text("choose"),
        ajax: {url: select.attr("data-url"), dataType: "json", delay: 250,
               data: function (params) { return {q: params.term || ""}; }}
      });
    });
  }
  if (window.MutationObserver) {  // FAB adds a filter's field when the filter is chosen
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        Array.prototype.forEach.call(change.addedNodes, function (node) {
          if (node.nodeType === 1) { setUpRemoteSelects(node); }
        });
      });
    }).observe(document.documentElement, {childList: true, subtree: true});
  }

  // --- saved filters, read when their menu first opens: the user menu's (every list's, named
  // with their list) and a list's own bar (with a button deleting each: macros/saved_filters.html)
  function savedFilterItem(slot, saved) {
    var li = document.createElement("li"), a = document.createElement("a");
    a.textContent = slot.getAttribute("data-with-list") ? saved.list + ": " + saved.name : saved.name;
    a.href = saved.url;
    a.className = slot.getAttribute("data-item-class");
    li.appendChild(a);
    var action = slot.getAttribute("data-delete");
    if (!action) { return li; }
    li.style.display = "flex"; li.style.alignItems = "center"; a.style.flex = "1";
    var form = document.createElement("form"), button = document.createElement("button");
    form.method = "post"; form.action = action.replace("/0/", "/" + saved.id + "/"); form.style.margin = "0 8px";
    [["csrf_token", "data-csrf"], ["query", "data-query"]].forEach(function (pair) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = pair[0]; input.value = slot.getAttribute(pair[1]) || "";
      form.appendChild(input);
    });
    button.type = "submit"; button.className = "btn btn-link btn-xs delete-saved-filter";
    button.title = slot.getAttribute("data-title") || "";
    button.innerHTML = '<i class="fa fa-trash"></i>';
    form.appendChild(button);
    var question = (slot.getAttribute("data-confirm") || "").replace("{name}", function () { return saved.name; });
    form.addEventListener("submit", function (event) { if (!window.confirm(question)) { event.preventDefault(); } });
    li.appendChild(form);
    return li;
  }
  function setUpSavedFilters(root) {
    if (!root.querySelectorAll || !window.fetch) { return; }
    Array.prototype.forEach.call(root.querySelectorAll("li.saved-filters-slot"), function (slot) {
      var toggle = slot.parentNode.parentNode.querySelector(".dropdown-toggle"), loaded = false;
      if (!toggle) { return; }
      toggle.addEventListener("click", function () {
        if (loaded) { return; }
        loaded = true;
        fetch(slot.getAttribute("data-src"), {credentials: "same-origin"})
          .then(function (response) { return response.ok ? response.json() : []; })
          .catch(function () { return []; })
          .then(function (found) {
            var list = slot.parentNode;
            found.forEach(function (saved) { list.insertBefore(savedFilterItem(slot, saved), slot); });
            if (!found.length) {
              var none = document.createElement("li"), text = document.createElement("a");
              none.className = "disabled"; text.textContent = slot.getAttribute("data-none");
              none.appendChild(text); list.insertBefore(none, slot);
            }
            list.removeChild(slot);
          });
      });
    });
  }

  function setUp(root) {
    setUpDates(root); setUpFiles(root); setUpMultiSelects(root); setUpRemoteSelects(root); setUpSavedFilters(root);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  } else {
    setUp(document);
  }
  window.qmsForms = {setUp: setUp};
})();
