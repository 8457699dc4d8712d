"""The proposal agent: tools, a bounded Claude tool-use loop, an offline planner, proposals as branches and PRs.

Entry points: ``python -m agent propose`` / ``python -m agent review`` (:mod:`agent.__main__`) and
``agent.demo.run_agent_demo`` (``make demo``). Nothing else imports this package.
"""
