"""The tutorial DAG's job done by rtds: fetch users into PostgreSQL on a schedule, then gate
the round on data quality.

Tasks
- ``ingest``: ``rtds ingest --json`` (one round: ``users`` users, or ``duration`` of fetching
  when ``users`` is 0), retried; the round's JSON summary is the task's XCom value.
- ``check``: ``rtds check --table created_users`` runs the dataflow's expectations over the
  table; a failed drop-row expectation exits with status 1 and fails the run. It then checks the
  round's summary too: a round that stored nothing, or had API requests fail after their
  retries, fails.

Where things come from (nothing secret is in this file, on a command line or in a log)
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
from airflow.sdk import DAG, Param

DAG_ID = "rtds_users"

# A Connection's URI is rendered into the task's environment, never into its command, so it is
# not in the rendered command, the process list or the log (Airflow masks a Connection's
# password wherever it does show). Empty when the Connection does not exist; the command then
# keeps the worker's RTDS_POSTGRES / RTDS_API.
CONNECTION_ENV = {
    "RTDS_CONN_POSTGRES": "{% set c = conn.get('rtds_postgres') %}{{ c.get_uri() if c else '' }}",
    "RTDS_CONN_API": "{% set c = conn.get('rtds_api') %}{{ c.host if c else '' }}",
}
PICK_CONNECTIONS = (
    'export RTDS_POSTGRES="${RTDS_CONN_POSTGRES:-${RTDS_POSTGRES:-}}" RTDS_API="${RTDS_CONN_API:-${RTDS_API:-}}"; '
    '[ -n "$RTDS_POSTGRES" ] || unset RTDS_POSTGRES; [ -n "$RTDS_API" ] || unset RTDS_API; '
    'unset RTDS_CONN_POSTGRES RTDS_CONN_API; '
)
RTDS = '"${RTDS_BIN:-rtds}"'
DATAFLOW = '${RTDS_DATAFLOW:+--dataflow "$RTDS_DATAFLOW"}'

# One round; `tr` folds the pretty JSON summary onto one line, the line BashOperator pushes to
# XCom (pipefail keeps rtds's exit status).
INGEST = (
    "set -euo pipefail; "
    + PICK_CONNECTIONS
    + "if [ {{ params.users }} -gt 0 ]; then round=(--users {{ params.users }}); else round=(--duration {{ params.duration }}); fi; "
    + RTDS
    + ' ingest "${round[@]}" --batch {{ params.batch }} --attempts {{ params.attempts }} --json | tr -d "\\n"'
)
CHECK = "set -euo pipefail; " + PICK_CONNECTIONS + RTDS + " check " + DATAFLOW + " --table created_users"


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
        "duration": Param("60s", type="string", description="how long a round fetches, like the tutorial's minute"),
        "batch": Param(5000, type="integer", minimum=1, maximum=5000, description="users per API request"),
        "attempts": Param(8, type="integer", minimum=1, description="attempts per API request and page store"),
    },
    tags=["rtds"],
) as dag:
    ingest = BashOperator(task_id="ingest", bash_command=INGEST, env=CONNECTION_ENV, append_env=True, do_xcom_push=True)
    quality = BashOperator(task_id="check", bash_command=CHECK, env=CONNECTION_ENV, append_env=True, do_xcom_push=False, retries=0)
    summary = PythonOperator(task_id="check_round", python_callable=check_round, retries=0)
    ingest >> quality >> summary
