# The command menu Telegram shows under "/".
cmd-start = Start and main menu
cmd-menu = Main menu
cmd-history = My generations
cmd-balance = Balance and operations
cmd-free = Free generations today
cmd-invite = Invite friends, get a bonus
cmd-language = Change the language
cmd-help = How it works
cmd-credits = Kie.ai account credits (admin)
admin-title = 🛠 Operator panel
admin-commands = /credits: the Kie.ai balance again
cmd-admin = Operator panel
