import importlib

import markupsafe
import simplejson


def test_simplejson_uses_its_compiled_speedups():
    assert importlib.import_module("simplejson._speedups")
    assert simplejson.loads(simplejson.dumps({"a": [1, 2]})) == {"a": [1, 2]}


def test_markupsafe_uses_its_compiled_speedups():
    assert importlib.import_module("markupsafe._speedups")
    assert str(markupsafe.escape("<b>")) == "&lt;b&gt;"
