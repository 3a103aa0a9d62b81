"""Building the DAG: tasks and their options, edges, flows, collections, parameters, graph
algorithms and flow state handlers. Pure: nothing here runs a task or knows a task runner
(``Flow.run`` hands the flow to ``orchestrator.runs`` when called)."""
