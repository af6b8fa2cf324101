import django
from django.conf import settings


def test_django_renders_a_template():
    if not settings.configured:
        settings.configure(
            TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
            INSTALLED_APPS=[],
        )
        django.setup()
    from django.template import Context, Template

    assert Template("{{ n|add:1 }} caches").render(Context({"n": 2})) == "3 caches"
