"""Load deterministic, realistic demo data: agencies, operators, queries, outcomes, spending."""

import random
import secrets
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from audit.imports import demo as imports_demo
from audit.log import demo as log_demo
from audit.models import Agency, LogState
from audit.transparency import selectors, services
from portal.roles import ensure_demo_users
from reports import demo as spending_demo
from reports.public import advance_public_rollup


class Command(BaseCommand):
    help = (
        "Load two years of demo data for a Birmingham-like Real Time Crime Center through the "
        "same recording service the API uses. Creates users council, auditor and admin."
    )

    def add_arguments(self, parser):
        parser.add_argument("--queries", type=int, default=60_000, help="Queries (default 60000).")
        parser.add_argument("--seed", type=int, default=2026, help="Random seed (default 2026).")
        parser.add_argument(
            "--vendor-rows",
            type=int,
            default=1500,
            help="Rows of the demo Flock audit export imported (default 1500; 0: none).",
        )
        parser.add_argument("--demo-password", help="Password for the demo users (else random).")
        parser.add_argument("--today", type=date.fromisoformat, help="Last day of data (ISO).")
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing if agencies already exist."
        )

    def handle(self, *args, queries, seed, vendor_rows, demo_password, today, if_empty, **options):
        if queries < 0:
            raise CommandError("--queries must be zero or more.")
        if vendor_rows < 0:
            raise CommandError("--vendor-rows must be zero or more.")
        if today is not None and today > timezone.localdate():
            raise CommandError("--today must not be after today: the demo's searches happened.")
        if demo_password is not None and len(demo_password) < 8:
            raise CommandError("--demo-password must be at least 8 characters.")
        if Agency.objects.exists():
            if if_empty:
                self.stdout.write("Demo data already loaded; keeping it.")
                if demo_password:
                    ensure_demo_users(demo_password)
                return
            raise CommandError(
                "The database already has agencies; seed_demo loads into an empty database "
                "(delete var/db.sqlite3 and migrate, or use --if-empty)."
            )
        rng = random.Random(seed)
        today = today or timezone.localdate()
        password = demo_password or secrets.token_urlsafe(12)

        self.stdout.write("Creating agencies, operators and integrations...")
        integrations = log_demo.seed_reference_data(rng, today=today)
        if queries:
            with tqdm(
                total=queries, unit="query", desc="Recording queries", file=self.stderr
            ) as bar:
                log_demo.seed_queries(
                    rng, integrations=integrations, count=queries, today=today, progress=bar.update
                )
            self.stdout.write("Recording outcomes...")
            outcomes = log_demo.seed_outcomes(rng, integrations=integrations)
            self.stdout.write(f"  {outcomes} outcomes.")
        if queries and vendor_rows:  # no queries: no searches in a vendor's export either
            self.stdout.write("Importing a demo Flock search audit export...")
            result = imports_demo.seed_vendor_import(
                rng, integration=integrations["BPD"], count=vendor_rows, today=today
            )
            self.stdout.write(
                f"  {result.kept} vendor rows: {result.matched} matched to the log, "
                f"{result.recorded} recorded as not logged by the RTCC."
            )
        payments = spending_demo.seed_spending(today=today)
        self.stdout.write(f"Spending: {payments} payments under the demo contracts.")
        # A head may already cover everything (published while loading); then keep it.
        head = services.publish_tree_head(force=True) or selectors.latest_tree_head()
        size = LogState.objects.get(id=1).size
        self.stdout.write(f"Log: {size} entries; signed tree head of size {head.tree_size}.")
        self.stdout.write("Counting the signed entries for the public pages...")
        advance_public_rollup(head)
        ensure_demo_users(password)
        shown = password if demo_password is None else "(the one you gave)"
        self.stdout.write(
            self.style.SUCCESS(f"Demo users council, auditor and admin; password: {shown}")
        )
