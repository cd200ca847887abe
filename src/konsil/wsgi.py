import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "konsil.settings")
application = get_wsgi_application()

from konsil.core.startup import warm_in_background  # noqa: E402 (needs the apps loaded)

warm_in_background("web")  # indexes built now, not by the first patient's request (core/startup.py)
