"""rightsize: the controller package the playbooks, the report and the tests share (names, steps, checks, capacity)."""
