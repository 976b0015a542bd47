"""The graph's nodes, one module per concern; each is `async def node(state, runtime) -> update`
over the services in `runtime.context` (tutor.agent.context.TurnContext)."""
