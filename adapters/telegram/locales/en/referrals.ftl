# Invite friends: the invite screen, and the notes both sides get when a referral pays.
menu-invite = 🎁 Invite friends
invite-title = 🎁 Invite friends
invite-how = Share your personal link. When a friend starts the bot through it for the first time, you get { $inviter_bonus } and your friend gets { $invitee_bonus }.
invite-how-no-bonus = Share your personal link: friends who start the bot through it for the first time count as yours.
invite-link = Your link: { $link }
invite-stats =
    Friends joined: { $invited }
    Bonuses earned: { $earned }
invite-share-text = I make images, videos and music with AI in this bot. Join me!
btn-invite-share = 📤 Share the link
referral-welcome-bonus = 🎁 You came with a friend's invitation: { $amount } added to your balance.
referral-inviter-notice = 🎉 A friend started the bot through your invite link: { $amount } added to your balance.
