"""rightsize: the controller package (variant names, step schedule, checks, plans, capacity model) shared by the playbooks, the report and the tests."""
