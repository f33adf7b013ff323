"""Where a query's statement ends: trailing semicolons and comments go, nothing quoted is cut."""

from __future__ import annotations

import pytest

from airflow_provider_clevertap.sql_text import statement_of


@pytest.mark.parametrize(
    ("sql", "statement"),
    [
        ("SELECT 1", "SELECT 1"),
        ("SELECT 1;", "SELECT 1"),
        ("SELECT 1 ;; \n", "SELECT 1"),
        ("SELECT 1; -- the users", "SELECT 1"),
        ("SELECT 1 -- the users\n;\n/* done; */ ; -- really", "SELECT 1"),
        ("SELECT 1 /* never closed", "SELECT 1"),
        ("SELECT a -- inside\nFROM t; -- after", "SELECT a -- inside\nFROM t"),
        # a "--", "/*" or ";" quoted is never the end
        ("SELECT '--;'; -- x", "SELECT '--;'"),
        ("SELECT 'it''s -- fine;' ;", "SELECT 'it''s -- fine;'"),
        ('SELECT "a--b;" FROM t;', 'SELECT "a--b;" FROM t'),
        ("SELECT `a--b` FROM t; -- x", "SELECT `a--b` FROM t"),
        ("SELECT '/* a'; -- */", "SELECT '/* a'"),
        ("SELECT $$ -- ; $$; -- x", "SELECT $$ -- ; $$"),
        ("SELECT $q$ $$ -- ; $q$ ;", "SELECT $q$ $$ -- ; $q$"),
        # "$" in a name, positional parameters and minus signs are no quotes or comments
        ("SELECT a$b$c FROM t;", "SELECT a$b$c FROM t"),
        ("SELECT $1 - -2 ;", "SELECT $1 - -2"),
        ("SELECT 1 - - 1", "SELECT 1 - - 1"),
        # an unterminated quote runs to the end: nothing after it is cut
        ("SELECT 'a; -- b", "SELECT 'a; -- b"),
        ("-- nothing but a comment\n;", ""),
    ],
)
def test_the_statement_ends_before_trailing_semicolons_and_comments(sql, statement):
    assert statement_of(sql) == statement
