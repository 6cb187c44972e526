"""Files made in the background for one user (issue 14 item 11): the records binder asked for
on the ticket list is made by a job on the queue, kept here, and downloaded from "Tệp đã tạo"."""
