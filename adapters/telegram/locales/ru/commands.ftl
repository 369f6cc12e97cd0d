# The command menu Telegram shows under "/".
cmd-start = Начало и главное меню
cmd-menu = Главное меню
cmd-history = Мои генерации
cmd-balance = Баланс и операции
cmd-free = Бесплатные генерации сегодня
cmd-invite = Пригласить друзей и получить бонус
cmd-language = Сменить язык
cmd-help = Как это работает
cmd-credits = Кредиты аккаунта Kie.ai (админ)
admin-title = 🛠 Панель оператора
admin-commands = /credits — баланс Kie.ai ещё раз
cmd-admin = Панель оператора
