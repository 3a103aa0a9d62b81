"""Add projects to a SQLite database: the ``@flow`` example of the reference docs.

One bad name (too short for the table's CHECK constraint) fails its own task run
while the others are still added; ``wait_for`` makes every insert wait for the
table. The flow run ends ``Failed('1/4 states failed.')`` for the names below,
and the good projects are in the database.

    orchestrator run examples/projects_db.py \
        --param project_names='["orion", "", "critically-important"]'
    orchestrator run examples/projects_db.py --local-cluster \
        --param project_names='["orion", "marvin"]'
    python examples/projects_db.py '["orion", "", "critically-important"]'

Unlike the reference, each task opens its own connection from ``db_file``: a
connection cannot travel to a Dask worker, a file name can.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

from orchestrator import flow, task

DEFAULT_DB = str(Path(tempfile.gettempdir()) / "orchestrator-projects.db")


@task
def create_tables(db_file: str) -> None:
    """Create the projects table; names must have at least 4 characters."""
    sql_create_projects_table = """CREATE TABLE IF NOT EXISTS projects (
                                        id integer PRIMARY KEY,
                                        name text NOT NULL,
                                        begin_date text
                                        CHECK(length("name") >= 4)
                                    ); """
    with sqlite3.connect(db_file) as connection:
        connection.execute(sql_create_projects_table)


@task
def add_project(db_file: str, name: str) -> int:
    """Insert one project and return its row id (bad names raise IntegrityError)."""
    sql = """INSERT INTO projects(name,begin_date)
              VALUES(?,?) """
    with sqlite3.connect(db_file) as connection:
        cursor = connection.execute(sql, (name, str(datetime.datetime.now(datetime.UTC))))
        return int(cursor.lastrowid or 0)


@flow(name="Add Projects to DB")
def main(project_names: list[str], db_file: str = DEFAULT_DB) -> None:
    """Create the table, then add each project once the table exists."""
    table_task = create_tables(db_file)
    for name in project_names:
        add_project(db_file, name, wait_for=[table_task])


if __name__ == "__main__":
    flow_state = main(json.loads(sys.argv[1]) if len(sys.argv) > 1 else ["orion"])
    task_run_states = flow_state.result(raise_on_failure=False)
    print(flow_state, [state.name for state in task_run_states])
