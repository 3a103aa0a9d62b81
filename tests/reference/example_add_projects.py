"""The reference document's flow script ``example.py``, run as a subprocess by its test.

Usage: ``python example_add_projects.py '["orion", "", "critically-important"]' DB_FILE``
(the document hard-codes ``/tmp/example.db``; the test passes a temporary file).
"""

import datetime
import json
import sqlite3
import sys

from orchestrator import flow, task


@task
def create_tables(connection):
    sql_create_projects_table = """CREATE TABLE IF NOT EXISTS projects (
                                        id integer PRIMARY KEY,
                                        name text NOT NULL,
                                        begin_date text
                                        CHECK(length("name") >= 4)
                                    ); """

    cur = connection.cursor()
    cur.execute(sql_create_projects_table)
    connection.commit()


@task
def add_project(connection, name):
    sql = """INSERT INTO projects(name,begin_date)
              VALUES(?,?) """
    cur = connection.cursor()
    cur.execute(sql, (name, str(datetime.datetime.now(datetime.UTC))))
    connection.commit()
    return cur.lastrowid


@flow(name="Add Projects to DB")
def main(project_names, db_file="/tmp/example.db"):

    # prefect may switch threads
    connection = sqlite3.connect(db_file, check_same_thread=False)
    create_tables(connection)

    for name in project_names:
        add_project(connection, name)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]), *sys.argv[2:3])
