"""Returning visitors for superpower: a Locust population that checks both promises on every visit.

Each simulated user is one person with one browser: it keeps the `superpower_id` cookie superpower
gives it on its first visit, comes back after a random pause (uniform between --visit-min-s and
--visit-max-s), asks `GET /` for JSON, and remembers the character it got. A visit fails, as a
Locust failure with one of the names in FAILURES, when (the first that applies):

- there was no answer: an HTTP status other than 200, a connection error or no answer within
  --visit-timeout-s ("no answer"), or the answer is not a character ("not a character");
- superpower gave the user a new identity, a different `superpower_id` cookie ("new identity");
- its superpower changed: the answer's character id differs from the one it got last time
  ("superpower changed", promise 1; the user then remembers the new one, so one change is one
  failure, as superpower's own `superpower_identity_changes_total` counts it);
- the answer took 1 s or more, from sending the request to having the body ("answer took 1 s or
  more", promise 2).

A degraded answer (`"degraded": true`, served from superpower's last-known-good cache) is an
answer: it fails only if its character changed or it was slow, as superpower counts it.

Run it (from the repository root, with the venv of scripts/tools.sh `ensure_venv`):

    var/venv/bin/locust -f visitors/locustfile.py                  # web UI on :8089, start it there
    var/venv/bin/locust -f visitors/locustfile.py --headless -u 10 -r 10 -t 20s --only-summary

The host defaults to $SUPERPOWER_URL, else http://127.0.0.1:30280. Locust exits 1 when any visit
failed. More in visitors/README.md.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import time

from locust import HttpUser, events, task

#: superpower's identity cookie (service/src/promise.rs `ID_COOKIE`; service/tests/promise.rs
#: holds this copy to it).
COOKIE = "superpower_id"
#: Promise 2: every answer in under a second (service/src/promise.rs `LATENCY_LIMIT`, held to it
#: by the same test).
PROMISE_SECONDS = 1.0
#: The names of the failures, as Locust's failure table and CSV show them.
FAILURES = {
    "changed": "superpower changed",
    "slow": f"answer took {PROMISE_SECONDS:g} s or more",
    "no_answer": "no answer",
    "new_identity": "new identity: the cookie was replaced",
    "not_a_character": "not a character",
}


class BrokenPromise(Exception):
    """A failed visit. Its repr is its name alone, so Locust's failure table, CSV and web UI show
    "superpower changed", not "CatchResponseError('superpower changed')"."""

    def __repr__(self):
        return str(self.args[0])


@events.init_command_line_parser.add_listener
def _arguments(parser):
    """The visitors' own settings: flags, env vars, and fields in the web UI's start form."""
    parser.add_argument(
        "--visit-min-s", type=float, default=1.0, env_var="VISIT_MIN_S", include_in_web_ui=True,
        help="shortest pause before a user comes back, in seconds (default 1)",
    )
    parser.add_argument(
        "--visit-max-s", type=float, default=5.0, env_var="VISIT_MAX_S", include_in_web_ui=True,
        help="longest pause before a user comes back, in seconds (default 5)",
    )
    parser.add_argument(
        "--visit-timeout-s", type=float, default=5.0, env_var="VISIT_TIMEOUT_S", include_in_web_ui=True,
        help="give up on an answer after this many seconds (default 5): a 'no answer' failure",
    )


def _settings_problem(o):
    """What is wrong with the visitors' settings, or None."""
    if not (0 <= o.visit_min_s <= o.visit_max_s) or o.visit_timeout_s <= 0:
        return (
            f"need 0 <= --visit-min-s ({o.visit_min_s}) <= --visit-max-s ({o.visit_max_s}) "
            f"and --visit-timeout-s ({o.visit_timeout_s}) > 0"
        )
    return None


@events.init.add_listener
def _refuse_bad_settings(environment, **_kwargs):
    """Bad flags or env vars: a clear error and exit 2 before any visit."""
    problem = environment.parsed_options and _settings_problem(environment.parsed_options)
    if problem:
        logging.error("visitors: %s", problem)
        sys.exit(2)


@events.test_start.add_listener
def _check_settings(environment, **_kwargs):
    """Bad values typed into the web UI's start form: said in the log; the test does not start."""
    problem = environment.parsed_options and _settings_problem(environment.parsed_options)
    if problem:
        raise ValueError(problem)


class ReturningVisitor(HttpUser):
    """One person who keeps coming back to ask for their superpower."""

    host = os.environ.get("SUPERPOWER_URL", "http://127.0.0.1:30280").rstrip("/")

    def on_start(self):
        #: The character id of the last answer, None before the first one.
        self.character = None
        #: The identity cookie superpower gave this user, None before the first answer.
        self.identity = None

    def wait_time(self):
        o = self.environment.parsed_options
        low, high = (o.visit_min_s, o.visit_max_s) if o else (1.0, 5.0)
        return random.uniform(low, high)

    @task
    def visit(self):
        o = self.environment.parsed_options
        timeout = o.visit_timeout_s if o else 5.0
        started = time.perf_counter()
        with self.client.get(
            "/", name="/", headers={"Accept": "application/json"}, timeout=timeout, catch_response=True
        ) as resp:
            took = time.perf_counter() - started
            problem = self.judge(resp, took)
            if problem:
                resp.failure(BrokenPromise(FAILURES[problem]))
            else:
                resp.success()

    def judge(self, resp, took):
        """The first broken promise of one answer (a key of FAILURES), or None."""
        if resp.status_code != 200:
            # 0: a connection error or a timeout (Locust keeps the exception in resp.error).
            return "no_answer"
        try:
            answer = json.loads(resp.content)
            character = answer["id"]
        except (ValueError, TypeError, KeyError):
            return "not_a_character"
        identity = self.client.cookies.get(COOKIE)
        lost = self.identity is not None and identity != self.identity
        changed = self.character is not None and character != self.character
        self.identity, self.character = identity, character
        if lost:
            return "new_identity"
        if changed:
            return "changed"
        if took >= PROMISE_SECONDS:
            return "slow"
        return None
