"""Reading the public variables' values as Ansible passes them (strings from -e, YAML numbers).

The kinds and bounds of each variable are in rightsize/variables.py; these read one value."""


def number(value):
    """float of a number (also one written as a string); ValueError for booleans and text."""
    if isinstance(value, bool):
        raise ValueError
    return float(value)


def whole_number(value):
    """int of a whole number (3, "3", 3.0); ValueError for booleans, fractions and text."""
    if isinstance(value, bool):
        raise ValueError
    result = float(value)
    if result != int(result):
        raise ValueError
    return int(result)


def search_replicas(text, default=1):
    """The replica counts of search_replicas ("1,2,3"); [default] when empty."""
    text = str(text or "").strip()
    if not text:
        return [int(default)]
    return [whole_number(part) for part in text.split(",")]


def users_list(value):
    """Whole numbers of users >= 1 as a list: from a list, one number, or the "10000,20000" that
    `-e capacity_predict_users=10000,20000` gives. ValueError otherwise."""
    if isinstance(value, str):
        items = [part for part in value.replace("[", "").replace("]", "").split(",") if part.strip()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    out = [whole_number(str(item).strip() if isinstance(item, str) else item) for item in items]
    if not out or any(users < 1 for users in out):
        raise ValueError(f"{value!r}: expected whole numbers >= 1")
    return out
