"""Autopay's strings in French (keys are the English text; a missing one shows in English).

Templates get `tr` (this catalog) beside the core's `t`; mail to a customer is in the
customer's language, mail to the operator in English.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FR: dict[str, str] = {
    "Amount": "Montant",
    "Automatic payment of invoice {number} declined":
    "Paiement automatique de la facture {number} refusé",
    "Automatic payments are paused after declined charges. Save a new payment method to "
    "start them again.":
    "Les paiements automatiques sont suspendus après des refus. Enregistrez un nouveau moyen "
    "de paiement pour les reprendre.",
    "Automatic payments are stopped: update your payment method.":
    "Les paiements automatiques sont arrêtés : mettez à jour votre moyen de paiement.",
    "Autopay": "Paiement automatique",
    "Autopay is off. Nothing will be charged.":
    "Le paiement automatique est désactivé. Rien ne sera prélevé.",
    "Autopay is on.": "Le paiement automatique est activé.",
    "Back to autopay": "Retour au paiement automatique",
    "Back to invoices": "Retour aux factures",
    "Being checked": "En vérification",
    "Card": "Carte",
    "Card number": "Numéro de carte",
    "Change payment method": "Changer de moyen de paiement",
    "Charge date": "Date du prélèvement",
    "Date": "Date",
    "Date: {date}": "Date : {date}",
    "Declined": "Refusé",
    "Enter the 3 or 4 digits of the security code.":
    "Saisissez les 3 ou 4 chiffres du cryptogramme.",
    "Enter the card number.": "Saisissez le numéro de carte.",
    "Enter the month as a number from 1 to 12.": "Saisissez le mois, de 1 à 12.",
    "Enter the year, such as 2030.": "Saisissez l'année, par exemple 2030.",
    "Expired": "Expirée",
    "Expires": "Expire",
    "Expiry month (MM)": "Mois d'expiration (MM)",
    "Expiry year (YYYY)": "Année d'expiration (AAAA)",
    "Hello {name},": "Bonjour {name},",
    "I authorise {tenant} to charge this payment method for my open invoices on their due "
    "dates, after a notice sent {days} days before each charge. I can turn autopay off or "
    "remove this method at any time on this portal.":
    "J'autorise {tenant} à débiter ce moyen de paiement pour mes factures ouvertes à leur "
    "échéance, après un avis envoyé {days} jours avant chaque prélèvement. Je peux désactiver "
    "le paiement automatique ou supprimer ce moyen de paiement à tout moment sur cet espace.",
    "Invoice": "Facture",
    "Invoice {number}": "Facture {number}",
    "It replaces {method}.": "Il remplace {method}.",
    "Latest automatic payments": "Derniers paiements automatiques",
    "Manage autopay": "Gérer le paiement automatique",
    "Next charge: invoice {number}, {amount} on {date}":
    "Prochain prélèvement : facture {number}, {amount} le {date}",
    "Next charges": "Prochains prélèvements",
    "Not charged: update your payment method":
    "Non prélevée : mettez à jour votre moyen de paiement",
    "Nothing to charge: no open invoice.": "Rien à prélever : aucune facture ouverte.",
    "Off": "Désactivé",
    "On": "Activé",
    "On hold: not charged for now": "En attente : pas de prélèvement pour l'instant",
    "Open the portal": "Ouvrir l'espace client",
    "Paid": "Payée",
    "Paused": "Suspendu",
    "Pay your invoices automatically on their due date with a saved card.":
    "Réglez vos factures automatiquement à leur échéance avec une carte enregistrée.",
    "Payment in progress": "Paiement en cours",
    "Payment method": "Moyen de paiement",
    "Please correct the fields below.": "Veuillez corriger les champs ci-dessous.",
    "Receipt: invoice {number} paid": "Reçu : facture {number} payée",
    "Reference: {reference}": "Référence : {reference}",
    "Remove payment method": "Supprimer le moyen de paiement",
    "Result": "Résultat",
    "Save payment method": "Enregistrer le moyen de paiement",
    "Saved on": "Enregistré le",
    "Saving a payment method is not available right now. Please try again later.":
    "L'enregistrement d'un moyen de paiement est indisponible pour le moment. Veuillez "
    "réessayer plus tard.",
    "Security code (CVC)": "Cryptogramme (CVC)",
    "Set up autopay": "Activer le paiement automatique",
    "Test mode: use a test card such as 4242 4242 4242 4242.":
    "Mode test : utilisez une carte de test, par exemple 4242 4242 4242 4242.",
    "The automatic payment of {amount} for invoice {number} with {method} was declined.":
    "Le paiement automatique de {amount} pour la facture {number} avec {method} a été refusé.",
    "This card has expired.": "Cette carte a expiré.",
    "This card has expired. Save a new payment method to keep paying automatically.":
    "Cette carte a expiré. Enregistrez un nouveau moyen de paiement pour continuer à payer "
    "automatiquement.",
    "This card was refused. Try another card.": "Cette carte a été refusée. Essayez-en une autre.",
    "Tick the box to authorise automatic payments.":
    "Cochez la case pour autoriser les paiements automatiques.",
    "To change your payment method or turn autopay off before then, open your portal:":
    "Pour changer de moyen de paiement ou désactiver le paiement automatique d'ici là, "
    "ouvrez votre espace client :",
    "To update your payment method, open your portal:":
    "Pour mettre à jour votre moyen de paiement, ouvrez votre espace client :",
    "Turn autopay off": "Désactiver le paiement automatique",
    "Turn autopay on": "Activer le paiement automatique",
    "Upcoming automatic payment to {tenant}": "Prochain paiement automatique à {tenant}",
    "Use a test card, such as 4242 4242 4242 4242.":
    "Utilisez une carte de test, par exemple 4242 4242 4242 4242.",
    "We charged {amount} to {method} for invoice {number}. Thank you: the invoice is paid.":
    "Nous avons prélevé {amount} sur {method} pour la facture {number}. Merci : la facture "
    "est payée.",
    "We will not try again with this payment method: automatic payments are paused.":
    "Nous ne réessaierons pas avec ce moyen de paiement : les paiements automatiques sont "
    "suspendus.",
    "We will try again on {date}.": "Nous réessaierons le {date}.",
    "Your card could not be confirmed. Check it and try again.":
    "Votre carte n'a pas pu être confirmée. Vérifiez-la et réessayez.",
    "Your card for automatic payments has expired":
    "Votre carte pour les paiements automatiques a expiré",
    "Your card has insufficient funds.": "Votre carte n'a pas une provision suffisante.",
    "Your card is entered in a secure field from our payment provider, which needs "
    "JavaScript.":
    "Votre carte se saisit dans un champ sécurisé de notre prestataire de paiement, qui "
    "nécessite JavaScript.",
    "Your card was declined.": "Votre carte a été refusée.",
    "Your payment method is removed. Nothing will be charged.":
    "Votre moyen de paiement est supprimé. Rien ne sera prélevé.",
    "Your payment method is saved.": "Votre moyen de paiement est enregistré.",
    "new attempt": "nouvelle tentative",
    "on {date}": "le {date}",
    "{brand} ending in {last4}": "{brand} se terminant par {last4}",
    "{method}, which you saved for automatic payments to {tenant}, has expired. Nothing will "
    "be charged until you save a new payment method.":
    "{method}, enregistrée pour vos paiements automatiques à {tenant}, a expiré. Rien ne sera "
    "prélevé tant que vous n'aurez pas enregistré un nouveau moyen de paiement.",
    "{tenant} will charge {method} automatically for these invoices:":
    "{tenant} prélèvera automatiquement {method} pour ces factures :",
}

CATALOGS: dict[str, dict[str, str]] = {"en": {}, "fr": FR}


def language(locale: str | None) -> str:
    lang = (locale or "en").replace("-", "_").split("_", 1)[0].lower()
    return lang if lang in CATALOGS else "en"


def translate(locale: str | None, text: str, **values: Any) -> str:
    result = CATALOGS[language(locale)].get(text, text)
    return result.format(**values) if values else result


def translator(locale: str | None) -> Callable[..., str]:
    """`tr("Invoice {number}", number="F-1")` in the customer's language."""

    def tr(text: str, **values: Any) -> str:
        return translate(locale, text, **values)

    return tr
