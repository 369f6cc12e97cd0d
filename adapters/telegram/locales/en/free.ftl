# The free tier: the Free screen, its menu button, and texts for the confirmation.
menu-free = 🎁 Free today
free-title = 🎁 Free today
free-left = { $left } of { $quota ->
        [one] { $quota } free generation
       *[other] { $quota } free generations
    } left today, refills at { $time } UTC.
free-used-up = Until then the free models cost their usual price.
free-models = Free models:
free-model = 🎁 { $title }
free-off = There are no free generations at the moment.
confirm-free = 🎁 Free: uses one of today's free generations ({ $left } left).
confirm-free-used-up = Today's free generations are used up: the usual price applies until { $time } UTC.
