"""Booleans written as text: one set of words for a templated argument and a connection's extra."""

from __future__ import annotations

import pytest

from airflow_provider_clevertap.flags import FALSE_WORDS, TRUE_WORDS, flag_word, read_flag
from airflow_provider_clevertap.hooks.connection_settings import tls_verify


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), ("True", True), ("false", False), ("False", False), ("", False)]
)
def test_a_templated_flag_reads_as_a_boolean(value, expected):
    assert read_flag(value, "full_refresh") is expected


def test_a_flag_that_is_neither_true_nor_false_is_refused():
    with pytest.raises(ValueError, match="full_refresh must be true or false"):
        read_flag("sometimes", "full_refresh")


def test_the_words_are_those_airflow_reads_as_booleans():
    # conf.getboolean takes t/true/1 and f/false/0; airflow.utils.strings.to_boolean's true words
    # are on/t/true/y/yes/1: a value Airflow reads as a boolean reads the same here.
    assert {"t", "true", "1", "on", "y", "yes"} == TRUE_WORDS
    assert {"f", "false", "0", "off", "n", "no"} == FALSE_WORDS


@pytest.mark.parametrize("word", sorted(TRUE_WORDS | FALSE_WORDS))
def test_every_word_means_the_same_in_a_templated_flag_and_in_the_verify_extra(word):
    expected = word in TRUE_WORDS
    for written in (word, word.upper(), f" {word} "):
        assert flag_word(written) is expected
        assert read_flag(written, "full_refresh") is expected
        assert tls_verify(written) is expected


@pytest.mark.parametrize("value", [None, "None", " "])
def test_nothing_given_is_false_for_a_flag(value):
    assert read_flag(value, "full_refresh") is False


@pytest.mark.parametrize("value", [None, "", " "])
def test_nothing_given_keeps_verification_on(value):
    assert tls_verify(value) is True


def test_other_text_is_an_error_naming_the_field_but_a_ca_bundle_path_for_verify():
    with pytest.raises(ValueError, match=r"dry_run must be true or false \(0, 1, f, false, n, no, off, on"):
        read_flag("enabled", "dry_run")
    assert flag_word("/etc/ssl/ca.pem") is None
    assert tls_verify(" /etc/ssl/ca.pem ") == "/etc/ssl/ca.pem"
