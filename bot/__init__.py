"""Everything conversational: the Zalo channel, the Rasa NLU components and the custom actions."""
