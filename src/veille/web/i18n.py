"""The words of the public pages in English and French."""

from __future__ import annotations

from veille.vocab import PlatformCategory

LANGUAGES = ("en", "fr")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Report child sexual exploitation",
        "intro": "You do not need an account. You may stay anonymous. Do not attach or send "
        "pictures or videos: describe what you saw and where.",
        "danger": "If a child is in immediate danger, call the emergency number 112.",
        "description": "What happened?",
        "category": "Where did it happen?",
        "platform": "Name of the app, game or website (optional)",
        "url": "Web address (optional)",
        "suspect_account": "Account name of the person involved (optional)",
        "country": "Country (optional, e.g. FR)",
        "incident_date": "When did it happen? (optional)",
        "anonymous": "I want to stay anonymous",
        "contact_email": "Your e-mail, if we may contact you (optional)",
        "submit": "Send the report",
        "thanks_title": "Thank you",
        "thanks": "Your report has been received. Its reference is",
        "other_language": "Français",
        "error": "Please check this field",
        "expired": "The form has expired. Please send it again.",
        "too_many": "Too many reports from your connection. Please try again later.",
        "unavailable": "Reporting is not available right now. Please call the hotline.",
    },
    "fr": {
        "title": "Signaler une exploitation sexuelle d'enfant",
        "intro": "Pas besoin de compte. Vous pouvez rester anonyme. N'envoyez ni photo ni vidéo : "
        "décrivez ce que vous avez vu et où.",
        "danger": "Si un enfant est en danger immédiat, appelez le 112 ou le 119.",
        "description": "Que s'est-il passé ?",
        "category": "Où cela s'est-il passé ?",
        "platform": "Nom de l'application, du jeu ou du site (facultatif)",
        "url": "Adresse web (facultatif)",
        "suspect_account": "Nom du compte de la personne en cause (facultatif)",
        "country": "Pays (facultatif, ex. FR)",
        "incident_date": "Quand cela s'est-il passé ? (facultatif)",
        "anonymous": "Je souhaite rester anonyme",
        "contact_email": "Votre courriel, si nous pouvons vous recontacter (facultatif)",
        "submit": "Envoyer le signalement",
        "thanks_title": "Merci",
        "thanks": "Votre signalement a bien été reçu. Sa référence est",
        "other_language": "English",
        "error": "Veuillez vérifier ce champ",
        "expired": "Le formulaire a expiré. Merci de l'envoyer à nouveau.",
        "too_many": "Trop de signalements depuis votre connexion. Réessayez plus tard.",
        "unavailable": "Le signalement en ligne n'est pas disponible. Appelez la ligne d'écoute.",
    },
}

CATEGORY_LABELS: dict[str, dict[PlatformCategory, str]] = {
    "en": {
        PlatformCategory.SOCIAL_MEDIA: "Social network",
        PlatformCategory.MESSAGING: "Messaging app",
        PlatformCategory.ONLINE_GAMING: "Online game",
        PlatformCategory.VIDEO_CONFERENCE: "Video call",
        PlatformCategory.WEBSITE: "Website",
        PlatformCategory.P2P: "File sharing (peer-to-peer)",
        PlatformCategory.DARKNET_FORUM: "Dark-web forum",
        PlatformCategory.PAID_CONTENT: "Paid content or live stream",
        PlatformCategory.OFFLINE: "Not online",
        PlatformCategory.OTHER: "Other / I don't know",
    },
    "fr": {
        PlatformCategory.SOCIAL_MEDIA: "Réseau social",
        PlatformCategory.MESSAGING: "Messagerie",
        PlatformCategory.ONLINE_GAMING: "Jeu en ligne",
        PlatformCategory.VIDEO_CONFERENCE: "Appel vidéo",
        PlatformCategory.WEBSITE: "Site web",
        PlatformCategory.P2P: "Partage de fichiers (pair-à-pair)",
        PlatformCategory.DARKNET_FORUM: "Forum du dark web",
        PlatformCategory.PAID_CONTENT: "Contenu payant ou diffusion en direct",
        PlatformCategory.OFFLINE: "Hors ligne",
        PlatformCategory.OTHER: "Autre / je ne sais pas",
    },
}
