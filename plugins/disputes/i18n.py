"""The plugin's strings in French (English is the key), by the customer's language.

The default reason labels are translated too; a label the operator wrote is shown as written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FR: dict[str, str] = {
    # reasons (the defaults)
    "Unsatisfactory work": "Travail insatisfaisant",
    "Faulty goods": "Marchandise défectueuse",
    "Late delivery": "Livraison en retard",
    "Never agreed": "Jamais convenu",
    "Unable to pay": "Impossible de payer",
    "Pricing disagreement": "Désaccord sur le prix",
    "Invoice processing error": "Erreur de traitement de la facture",
    "Other": "Autre",
    # portal
    "Disputed: {reason}": "Contestée : {reason}",
    "Dispute": "Contester",
    "View dispute": "Voir la contestation",
    "Past dispute": "Contestation précédente",
    "Dispute invoice {number}": "Contester la facture {number}",
    "Dispute about invoice {number}": "Contestation de la facture {number}",
    "Back to the invoice": "Retour à la facture",
    "Tell us what is wrong with this invoice. Our team will answer you here.":
    "Dites-nous ce qui ne va pas avec cette facture. Notre équipe vous répondra ici.",
    "Reason": "Motif",
    "Choose a reason": "Choisissez un motif",
    "Message": "Message",
    "At most {count} characters.": "{count} caractères au maximum.",
    "Attachment (optional)": "Pièce jointe (facultatif)",
    "PDF, PNG or JPEG, up to {size}.": "PDF, PNG ou JPEG, {size} au maximum.",
    "Send the dispute": "Envoyer la contestation",
    "Send": "Envoyer",
    "Please correct the following:": "Veuillez corriger ce qui suit :",
    "Choose one of the reasons.": "Choisissez l'un des motifs.",
    "Write a message.": "Écrivez un message.",
    "The message is longer than {count} characters.":
    "Le message dépasse {count} caractères.",
    "The file is larger than {size}.": "Le fichier dépasse {size}.",
    "The file is empty.": "Le fichier est vide.",
    "Only PDF, PNG and JPEG files are accepted.":
    "Seuls les fichiers PDF, PNG et JPEG sont acceptés.",
    "This invoice already has an open dispute: you can add your message to it below.":
    "Cette facture fait déjà l'objet d'une contestation en cours : vous pouvez y ajouter "
    "votre message ci-dessous.",
    "Your dispute was sent. We will answer you here.":
    "Votre contestation a été envoyée. Nous vous répondrons ici.",
    "Your message was sent.": "Votre message a été envoyé.",
    "Status": "Statut",
    "Open": "En cours",
    "Resolved": "Résolue",
    "Accepted": "Acceptée",
    "Rejected": "Rejetée",
    "Resolved: accepted": "Résolue : acceptée",
    "Resolved: rejected": "Résolue : rejetée",
    "Opened": "Ouverture",
    "Conversation": "Échanges",
    "You": "Vous",
    "{name} team": "Équipe {name}",
    "Attachment: {name}": "Pièce jointe : {name}",
    "Add a message": "Ajouter un message",
    "This dispute is resolved.": "Cette contestation est résolue.",
    "This dispute is resolved: you can no longer add messages.":
    "Cette contestation est résolue : vous ne pouvez plus y ajouter de message.",
    "Your open disputes": "Vos contestations en cours",
    "Invoice {number}": "Facture {number}",
    "Amount due": "Montant dû",
    "Due date": "Échéance",
    # mail to the customer
    "Hello {name},": "Bonjour {name},",
    "We received your dispute about invoice {number}":
    "Nous avons reçu votre contestation de la facture {number}",
    "We opened a dispute about invoice {number} for you":
    "Nous avons ouvert une contestation de la facture {number} pour vous",
    "We received your dispute about invoice {number} (reason: {reason}). Our team will look "
    "into it and answer you.":
    "Nous avons reçu votre contestation de la facture {number} (motif : {reason}). Notre "
    "équipe va l'examiner et vous répondre.",
    "At your request, we opened a dispute about invoice {number} (reason: {reason}). We will "
    "keep you informed.":
    "À votre demande, nous avons ouvert une contestation de la facture {number} (motif : "
    "{reason}). Nous vous tiendrons informé.",
    "Your message:": "Votre message :",
    "The invoice is on hold while the dispute is open.":
    "La facture est suspendue tant que la contestation est en cours.",
    "You can follow the conversation on your customer portal.":
    "Vous pouvez suivre les échanges sur votre espace client.",
    "New reply about invoice {number}": "Nouvelle réponse concernant la facture {number}",
    "{name} answered your dispute about invoice {number}:":
    "{name} a répondu à votre contestation de la facture {number} :",
    "Your dispute about invoice {number} is resolved":
    "Votre contestation de la facture {number} est résolue",
    "We accepted your dispute about invoice {number}.":
    "Nous avons accepté votre contestation de la facture {number}.",
    "After review, we rejected your dispute about invoice {number}.":
    "Après examen, nous avons rejeté votre contestation de la facture {number}.",
    "Note from {name}:": "Note de {name} :",
}

CATALOGS: dict[str, dict[str, str]] = {"en": {}, "fr": FR}


def language(locale: str | None) -> str:
    lang = (locale or "en").split("_", 1)[0].split("-", 1)[0].lower()
    return lang if lang in CATALOGS else "en"


def translate(locale: str | None, text: str, **values: Any) -> str:
    result = CATALOGS[language(locale)].get(text, text)
    return result.format(**values) if values else result


def translator(locale: str | None) -> Callable[..., str]:
    """`tr("Invoice {number}", number="F-1")` in the customer's language."""

    def tr(text: str, **values: Any) -> str:
        return translate(locale, text, **values)

    return tr
