"""Management review (5.8, BM.CTCL.02): meetings, the QMS operation report and the notice."""
