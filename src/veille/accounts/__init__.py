"""Analysts' accounts: users of an agency with a role, passwords, a second factor, sessions."""
