"""Voice of the customer: alert rules that open follow-ups with an owner and an SLA."""
