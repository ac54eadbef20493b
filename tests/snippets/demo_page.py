"""What the demo page's tests do on it: create a snippet, find one."""


def create(page, title, code="def hello():\n    return 'hi'\n"):
    page.get_by_label("Title").fill(title)
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Create", exact=True).click()


def snippet_item(page, title):
    return page.locator("#snippets li", has_text=title)
