"""Finding the customer from whatever the agent has: a name, an e-mail address, a phone number
(any way written), an order number or id, a ticket id."""
