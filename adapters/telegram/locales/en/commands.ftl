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
    /refund <charge id>: give a Stars payment back
cmd-admin = Operator panel
admin-refund-usage = Usage: /refund <telegram payment charge id>
admin-refund-done = Refunded: { $charge }. The Stars are back with the user and the credit was taken back.
admin-refund-pending = Recorded: { $charge }. The credit was taken back; Telegram has not confirmed yet, the bot keeps asking.
admin-refund-already = { $charge } was refunded before; nothing more was done.
admin-refund-spent = Not refunded: the credit of { $charge } is already (partly) spent. Adjust the balance by hand if needed.
admin-refund-unknown = No credited payment with the charge id { $charge }.
cmd-refund = Refund a Stars payment (admin)
