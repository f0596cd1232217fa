"""Reading the public variables' values as Ansible passes them (strings from -e, YAML numbers)."""


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
