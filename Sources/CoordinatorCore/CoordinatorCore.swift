// CoordinatorCore: the round state machine, aggregation and the durable store.
