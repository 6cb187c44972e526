"""Demo signing certificates (`flask qms demo --certificates`, used by `make run`): each demo
agency without one gets a certificate from a throwaway demo authority, whose root is written
to the instance folder so that the demo can trust it (QMS_SIGNING_TRUST_ROOTS)."""
import os

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.official import services
from app.official.authority import Authority
from app.organisation.models import Agency
from app.tenancy import ALL, agency_scope

ROOT_FILE = "demo-root-ca.pem"


def root_path() -> str:
    return os.path.join(current_app.config["INSTANCE_DIR"], ROOT_FILE)


def load_demo_certificates() -> list[str]:
    """Give every active agency without a signing certificate one from a new demo authority;
    its root is added to the instance folder's demo root file. Returns the agencies' codes."""
    with agency_scope(ALL):
        agencies = db.session.scalars(select(Agency).where(Agency.active).order_by(Agency.id)).all()
    authority, given = None, []
    for agency in agencies:
        with agency_scope(agency.id):
            if services.active_credential() is not None:
                continue
            authority = authority or Authority("CA thử nghiệm e-ISO (chỉ dùng cho dữ liệu mẫu)")
            services.import_credential(authority.pkcs12(agency.agency_name, password=None), None)
            given.append(agency.code)
    if authority is not None:
        with open(root_path(), "ab") as roots:
            roots.write(authority.pem)
    return given
