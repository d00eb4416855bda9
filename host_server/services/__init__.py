"""Rules that need the database but not the web stack: device login (auth), owner accounts
(owners), file servers' health as serving sees it (health), operators' sign-in limit
(operators)."""
