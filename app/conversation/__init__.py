"""The conversation on a record: one comment thread per ticket, nonconformity, objective plan
(and its report) and management review, with @mentions that notify the person named."""
