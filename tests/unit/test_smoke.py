from orchestrator import Flow, task


@task
def add_one(x):
    return x + 1


@task(name="sum")
def sum_numbers(y):
    return sum(y)


def test_map_reduce_flow_sums_mapped_children():
    with Flow("Map Reduce") as flow:
        mapped = add_one.map(x=[1, 2, 3, 4])
        total = sum_numbers(mapped)
    state = flow.run()
    assert state.is_successful()
    assert state.result()[total].result() == 14
    assert [s.result() for s in state.result()[mapped].map_states] == [2, 3, 4, 5]
