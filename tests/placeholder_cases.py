"""Values and whether each is an unfilled placeholder, written by hand: the one rule
(bot/placeholders.txt) must give these answers in env_manager.py and deploy-multi.sh alike."""

PLACEHOLDER_CASES: dict[str, bool] = {
    "your-discord-bot-token-here": True,
    "YOUR-OPENAI-API-KEY-1-HERE": True,
    "  your-minimax-api-key-2-here  ": True,
    "your--here": True,
    "changeme": True,
    "ChangeMe": True,
    " CHANGEME ": True,
    "<토큰>": True,
    "<paste the key here>": True,
    "<>": True,
    "": True,
    "   ": True,
    "sk-live-Abc123": False,
    "changeme2": False,
    "please-changeme": False,
    "your-key": False,
    "my-your-key-here": False,
    "<abc": False,
    "abc>": False,
    "MTAxNzQ.your-x-here.token": False,
}
