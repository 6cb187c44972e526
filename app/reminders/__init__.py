"""Reminders (`flask qms remind`): one digest a day per user, by e-mail and in the panel."""

import logging

NO_BASE_URL = ("QMS_BASE_URL chưa được đặt: liên kết trong thư nhắc việc sẽ là đường dẫn tương đối, "
               "người nhận không bấm được. Đặt QMS_BASE_URL=https://địa-chỉ-của-hệ-thống trong tệp môi trường.")


def warn_if_no_base_url(app) -> bool:
    """Log (in Vietnamese, like the command line) that the links in mails would be relative;
    whether it warned. Called at start-up outside tests and by `flask qms remind`."""
    if (app.config.get("QMS_BASE_URL") or "").strip():
        return False
    logging.getLogger(__name__).warning(NO_BASE_URL)
    return True
