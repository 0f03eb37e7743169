"""Rasa custom actions and form validators (rasa-sdk, the application's environment).

Run with ``henkham actions`` (``python -m rasa_sdk --actions bot.actions``). Every action is a thin caller
of the core services; what a message means inside a form is decided by the validators in Python.
"""
