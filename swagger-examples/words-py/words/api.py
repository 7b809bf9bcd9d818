"""The operations of ``openapi.yaml``, one function per ``operationId``.

Each takes a ``funcmesh.Request`` and returns a plain value that funcmesh
turns into the response: a dict or list becomes JSON, a str becomes
``text/plain``. The inflections come from the vendored ``inflection``
library (``lib/``).

The mesh validates path parameters, the query and the JSON body against
``openapi.yaml`` before a function runs; the functions check their input
again (raising ``funcmesh.BadRequest``, answered 400) so that they are safe
to call directly, as the tests do.
"""

import re

import funcmesh
import inflection

#: Bounds shared with ``openapi.yaml``.
MAX_WORD_LENGTH = 64
MAX_COUNT = 1_000_000
MAX_BATCH = 100

_INTEGER = re.compile(r"[+-]?[0-9]+")


def snake(word):
    """``word`` in snake_case: ``"ApplePie"`` and ``"apple pie"`` are both
    ``"apple_pie"``."""
    return inflection.underscore("_".join(word.split()))


def camel(word):
    """``word`` in CamelCase: ``"apple_pie"`` is ``"ApplePie"``."""
    return inflection.camelize(snake(word))


#: The forms ``POST /batch`` can ask for, by name.
FORMS = {
    "plural": inflection.pluralize,
    "singular": inflection.singularize,
    "camel": camel,
    "underscore": snake,
}

DEFAULT_FORM = "plural"


def _word(request):
    """The ``word`` path parameter, checked."""
    word = request.path_params.get("word", "")
    if not 1 <= len(word) <= MAX_WORD_LENGTH:
        raise funcmesh.BadRequest(
            f"word must be 1 to {MAX_WORD_LENGTH} characters long"
        )
    return word


def _count(raw):
    """The ``count`` query parameter as an int in 0..=MAX_COUNT."""
    raw = raw.strip()
    # The length bound keeps int() away from huge digit strings.
    count = int(raw) if len(raw) <= 12 and _INTEGER.fullmatch(raw) else -1
    if not 0 <= count <= MAX_COUNT:
        raise funcmesh.BadRequest(f"count must be an integer from 0 to {MAX_COUNT}")
    return count


def inflect(request):
    """``GET /{word}``: every inflection of ``word``.

    Returns ``{"word", "plural", "singular", "camel", "underscore",
    "dasherized", "human", "title"}``, plus ``"ordinal"`` (``"21st"``) when
    the word is an integer and, with ``?count=N``, ``"count"`` and
    ``"phrase"``: ``"1 apple"``, ``"3 apples"``.
    """
    word = _word(request)
    plural = inflection.pluralize(word)
    singular = inflection.singularize(word)
    underscored = snake(word)
    result = {
        "word": word,
        "plural": plural,
        "singular": singular,
        "camel": inflection.camelize(underscored),
        "underscore": underscored,
        "dasherized": inflection.dasherize(underscored),
        "human": inflection.humanize(underscored),
        "title": inflection.titleize(word),
    }
    if _INTEGER.fullmatch(word):
        result["ordinal"] = inflection.ordinalize(int(word))
    raw_count = request.query.get("count")
    if raw_count is not None:
        count = _count(raw_count)
        result["count"] = count
        result["phrase"] = f"{count} {singular if count == 1 else plural}"
    return result


def batch(request):
    """``POST /batch``: one form of many words.

    The body is ``{"words": [str, ...], "form": "plural" | "singular" |
    "camel" | "underscore"}`` (``form`` defaults to ``"plural"``); the answer
    is ``[{"word": ..., "result": ...}, ...]`` in the order given.
    """
    payload = request.json
    if not isinstance(payload, dict):
        raise funcmesh.BadRequest("the body must be a JSON object")
    words = payload.get("words")
    if (
        not isinstance(words, list)
        or not 1 <= len(words) <= MAX_BATCH
        or not all(
            isinstance(w, str) and 1 <= len(w) <= MAX_WORD_LENGTH for w in words
        )
    ):
        raise funcmesh.BadRequest(
            f"words must be a list of 1 to {MAX_BATCH} strings "
            f"of 1 to {MAX_WORD_LENGTH} characters"
        )
    form = payload.get("form", DEFAULT_FORM)
    convert = FORMS.get(form) if isinstance(form, str) else None
    if convert is None:
        raise funcmesh.BadRequest(f"form must be one of {', '.join(FORMS)}")
    return [{"word": word, "result": convert(word)} for word in words]


def plural_text(request):
    """``GET /{word}/plural``: the plural alone, as ``text/plain``."""
    return inflection.pluralize(_word(request))
