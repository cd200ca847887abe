"""`seed --demo`: load the demo data set (idempotent). Also available as `konsil seed --demo`."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _


class Command(BaseCommand):
    help = "Load a data set: --demo creates the demo organizations, users, specialists and cases."

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true", help="the demo data set")

    def handle(self, *args, demo=False, **options):
        if not demo:
            raise CommandError(_("Say which data set to load (--demo)."))
        from konsil.demo import seed_demo

        self.stdout.write("\n".join(seed_demo().report()))
