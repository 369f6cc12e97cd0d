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
    /refund <charge id> — вернуть платёж звёздами
cmd-admin = Панель оператора
admin-refund-usage = Использование: /refund <telegram payment charge id>
admin-refund-done = Возврат выполнен: { $charge }. Звёзды вернулись пользователю, зачисление списано.
admin-refund-pending = Записано: { $charge }. Зачисление списано; Telegram ещё не подтвердил, бот повторяет запрос.
admin-refund-already = { $charge } уже возвращён ранее; больше ничего не сделано.
admin-refund-spent = Возврат не выполнен: зачисление { $charge } уже (частично) потрачено. При необходимости поправьте баланс вручную.
admin-refund-unknown = Нет зачисленного платежа с charge id { $charge }.
cmd-refund = Вернуть платёж звёздами (админ)
