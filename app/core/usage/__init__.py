"""Usage, cost, budgets and the response cache: what each provider call used, cost and may still spend.

- `periods`: each provider's own day (Gemini: midnight America/Los_Angeles; else UTC) and month.
- `counters`: today's and this month's requests, tokens and cost per provider and model.
- `pricing`: USD per million input and output tokens; unknown prices stay unknown.
- `budgets`: daily and monthly caps per provider, checked before a call is sent.
- `cache`: replaying a response already paid for.
"""
