"""The tutorial DAG's job done by rtds: fetch users into PostgreSQL on a schedule, then gate
the round on data quality.

Tasks
- ``ingest``: ``rtds ingest --json`` (one round: ``users`` users, or ``duration`` of fetching
  when ``users`` is 0), retried; the round's JSON summary is the task's XCom value.
- ``check``: ``rtds check --table created_users`` runs the dataflow's expectations over the
  table; a failed drop-row expectation exits with status 1 and fails the run.
- ``check_round``: fails the run when the round's summary says API requests failed after their
  retries, or that it fetched users and stored none.

Where things come from (nothing secret is in this file, on a command line or in a rendered field)
- PostgreSQL: the Airflow Connection ``rtds_postgres`` if there is one (its URI, extras such as
  ``sslmode`` included), else ``RTDS_POSTGRES`` in the worker's environment.
- The users API: the Connection ``rtds_api`` (its host as the URL) if there is one, else
  ``RTDS_API``, else https://randomuser.me/api/.
- The program: ``RTDS_BIN`` (default ``rtds`` on the PATH); the dataflow file whose expectations
  gate the round: ``RTDS_DATAFLOW`` (default the built-in ``dataflows/users.sql``).
- The schedule: ``RTDS_DAG_SCHEDULE`` (default ``@daily``, the tutorial's); ``none`` for
  triggered runs only.
"""

from __future__ import annotations

import json
import os

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Connection, Param
from airflow.sdk.log import mask_secret

DAG_ID = "rtds_users"

# Every value reaches the commands through their environment, quoted: nothing a run's conf holds
# is spliced into a command line.
PARAMS_ENV = {
    "RTDS_ROUND_USERS": "{{ params.users }}",
    "RTDS_ROUND_DURATION": "{{ params.duration }}",
    "RTDS_ROUND_BATCH": "{{ params.batch }}",
    "RTDS_ROUND_ATTEMPTS": "{{ params.attempts }}",
}
RTDS = '"${RTDS_BIN:-rtds}"'

# One round. The summary is pretty JSON: `tr` folds it onto one line, ended by a newline, the line
# BashOperator pushes to XCom (pipefail keeps rtds's exit status; rtds's log goes to stderr).
INGEST = (
    "set -euo pipefail; "
    'if [ "$RTDS_ROUND_USERS" -gt 0 ]; then round=(--users "$RTDS_ROUND_USERS"); else round=(--duration "$RTDS_ROUND_DURATION"); fi; '
    + RTDS
    + ' ingest "${round[@]}" --batch "$RTDS_ROUND_BATCH" --attempts "$RTDS_ROUND_ATTEMPTS" --json | tr -d "\\n"; echo'
)
CHECK = "set -euo pipefail; " + RTDS + ' check ${RTDS_DATAFLOW:+--dataflow "$RTDS_DATAFLOW"} --table created_users'


class RtdsOperator(BashOperator):
    """A BashOperator whose command finds PostgreSQL and the users API in its environment: from
    the Airflow Connections `rtds_postgres` and `rtds_api`, looked up when the task runs, else
    the worker's own RTDS_POSTGRES / RTDS_API. Looked up here rather than templated into `env`,
    a Connection's URI is never a rendered field (which Airflow stores and shows), and it is
    registered with Airflow's secrets masker as a whole, so a log that prints it shows ***."""

    def get_env(self, context) -> dict:
        env = super().get_env(context)
        for conn_id, variable, value in (("rtds_postgres", "RTDS_POSTGRES", lambda c: c.get_uri()), ("rtds_api", "RTDS_API", lambda c: c.host)):
            try:
                connection = Connection.get(conn_id)
            except Exception:  # no such Connection: the worker's environment says
                continue
            if connection is not None and value(connection):
                env[variable] = value(connection)
                if connection.password:
                    mask_secret(env[variable])
        return env


def check_round(ti, **_):
    """Fails the run when the round's summary says it did not do its job."""
    summary = json.loads(ti.xcom_pull(task_ids="ingest"))
    print(f"round summary: {summary}")
    if summary["api_errors"] > 0:
        raise ValueError(f"{summary['api_errors']} API requests failed after their retries")
    if summary["fetched"] > 0 and summary["stored"] + summary["rejected"] == 0:
        raise ValueError(f"fetched {summary['fetched']} users and stored none")
    return summary


def schedule():
    value = os.environ.get("RTDS_DAG_SCHEDULE", "@daily")
    return None if value.lower() == "none" else value


with DAG(
    dag_id=DAG_ID,
    description="Users from a randomuser-compatible API into PostgreSQL with rtds, gated on data quality",
    schedule=schedule(),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "rtds", "retries": 3, "retry_delay": pendulum.duration(seconds=30), "retry_exponential_backoff": True},
    params={
        "users": Param(0, type="integer", minimum=0, description="users per round; 0 fetches for `duration`"),
        "duration": Param("60s", type="string", pattern="^[0-9]+(ms|s|m|h)$", description="how long a round fetches, like the tutorial's minute"),
        "batch": Param(5000, type="integer", minimum=1, maximum=5000, description="users per API request"),
        "attempts": Param(8, type="integer", minimum=1, description="attempts per API request and page store"),
    },
    tags=["rtds"],
) as dag:
    ingest = RtdsOperator(task_id="ingest", bash_command=INGEST, env=PARAMS_ENV, append_env=True, do_xcom_push=True)
    # A failed expectation is not transient: the run fails at once.
    quality = RtdsOperator(task_id="check", bash_command=CHECK, append_env=True, do_xcom_push=False, retries=0)
    summary = PythonOperator(task_id="check_round", python_callable=check_round, retries=0)
    ingest >> quality >> summary
