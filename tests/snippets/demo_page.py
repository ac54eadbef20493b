"""What the demo page's tests do on it: create a snippet, find one, edit one."""

from playwright.sync_api import expect


def create(page, title, code="def hello():\n    return 'hi'\n"):
    page.get_by_label("Title").fill(title)
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Create", exact=True).click()


def snippet_item(page, title):
    return page.locator("#snippets li", has_text=title)


def edit(page, title):
    """Open the snippet `title` for editing, as it is now (the page GETs it)."""
    snippet_item(page, title).get_by_role("button", name=f"Edit {title}").click()
    expect(page.get_by_role("button", name="Save changes")).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value(title)
