import importlib

import wrapt


def test_wrapt_uses_its_compiled_wrappers():
    assert importlib.import_module("wrapt._wrappers")

    @wrapt.decorator
    def double(wrapped, instance, args, kwargs):
        return 2 * wrapped(*args, **kwargs)

    @double
    def seven():
        return 7

    assert seven() == 14
