"""The plugin's words in English and French, and amounts and dates in the reader's locale.

Keys are the English text. A string missing here falls back to the core's catalog (so pages
that extend the core's layout keep its translations), then to the English text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, get_currency_precision

from arportal import translate

FR: dict[str, str] = {
    "Promise to pay": "Promesse de paiement",
    "Promises to pay": "Promesses de paiement",
    "Payment promised for {date}": "Paiement promis pour le {date}",
    "Promise to pay several invoices": "Promettre de payer plusieurs factures",
    "Tell us when you will pay one or more open invoices.":
    "Indiquez-nous quand vous réglerez une ou plusieurs factures à payer.",
    "Your promises": "Vos promesses",
    "Change or withdraw the promise": "Modifier ou retirer la promesse",
    "Back to your promises": "Retour à vos promesses",
    "Invoices to pay": "Factures à payer",
    "Select the invoices you will pay.": "Sélectionnez les factures que vous réglerez.",
    "Already promised": "Déjà promises",
    "promised for {date}": "promise pour le {date}",
    "Payment date": "Date de paiement",
    "Between {first} and {last}.": "Entre le {first} et le {last}.",
    "Note (optional)": "Note (facultative)",
    "Amount you will pay (optional)": "Montant que vous réglerez (facultatif)",
    "Leave empty to pay the whole amount due.": "Laissez vide pour régler tout le montant dû.",
    "Send the promise": "Envoyer la promesse",
    "Nothing to promise: you have no open invoice without a promise.":
    "Rien à promettre : vous n'avez aucune facture à payer sans promesse.",
    "Please correct the following:": "Merci de corriger ce qui suit :",
    "Thank you: your promise to pay was sent.": "Merci : votre promesse de paiement a été envoyée.",
    "Your promise now says {date}.": "Votre promesse indique désormais le {date}.",
    "Your promise was withdrawn.": "Votre promesse a été retirée.",
    "You have not promised to pay any invoice yet.":
    "Vous n'avez encore promis de payer aucune facture.",
    "Invoice": "Facture",
    "Promised date": "Date promise",
    "Promised amount": "Montant promis",
    "Made on": "Faite le",
    "Note": "Note",
    "Made by": "Faite par",
    "you": "vous",
    "History": "Historique",
    "Change the date": "Changer la date",
    "New payment date": "Nouvelle date de paiement",
    "Save the new date": "Enregistrer la nouvelle date",
    "Withdraw the promise": "Retirer la promesse",
    "Withdraw": "Retirer",
    "This promise can no longer be changed.": "Cette promesse ne peut plus être modifiée.",
    "Promise for invoice {number}": "Promesse pour la facture {number}",
    "pending": "en cours",
    "kept": "tenue",
    "broken": "non tenue",
    "withdrawn": "retirée",
    "cancelled": "annulée",
    "made": "faite",
    "changed": "modifiée",
    "the whole amount due": "tout le montant dû",
    # refusals
    "Select at least one invoice.": "Sélectionnez au moins une facture.",
    "Select at most {count} invoices at once.": "Sélectionnez au plus {count} factures à la fois.",
    "There is no invoice {id} on your account.": "Il n'y a pas de facture {id} sur votre compte.",
    "Invoice {number} is void.": "La facture {number} est annulée.",
    "Invoice {number} is already paid.": "La facture {number} est déjà payée.",
    "Invoice {number} already has a promise to pay for {date}.":
    "La facture {number} a déjà une promesse de paiement pour le {date}.",
    "Choose a payment date.": "Choisissez une date de paiement.",
    "Enter the date as YYYY-MM-DD.": "Saisissez la date au format AAAA-MM-JJ.",
    "The date cannot be before today ({date}).":
    "La date ne peut pas être antérieure à aujourd'hui ({date}).",
    "Choose a date no later than {date}.": "Choisissez une date au plus tard le {date}.",
    "That is already the promised date.": "C'est déjà la date promise.",
    "The note can have at most {count} characters.":
    "La note peut compter au plus {count} caractères.",
    "Partial amounts are not accepted: leave the amount empty.":
    "Les montants partiels ne sont pas acceptés : laissez le montant vide.",
    "Enter an amount such as {example}.": "Saisissez un montant tel que {example}.",
    "Enter an amount greater than zero.": "Saisissez un montant supérieur à zéro.",
    "Enter at most {amount}, the amount due.": "Saisissez au plus {amount}, le montant dû.",
    "Enter at most {count} decimals.": "Saisissez au plus {count} décimales.",
    "This promise is no longer pending.": "Cette promesse n'est plus en cours.",
    "The promised date has passed: the promise can no longer be changed.":
    "La date promise est passée : la promesse ne peut plus être modifiée.",
    # mail to the customer
    "Your promise to pay {tenant}": "Votre promesse de paiement à {tenant}",
    "Your promise to pay {tenant} was changed":
    "Votre promesse de paiement à {tenant} a été modifiée",
    "Your promise to pay {tenant} was withdrawn":
    "Votre promesse de paiement à {tenant} a été retirée",
    "Reminder: payment promised to {tenant} for {date}":
    "Rappel : paiement promis à {tenant} pour le {date}",
    "Hello {name},": "Bonjour {name},",
    "Thank you: {tenant} received your promise to pay by {date}:":
    "Merci : {tenant} a bien reçu votre promesse de paiement pour le {date} :",
    "Your promise to pay {tenant} now says {date}:":
    "Votre promesse de paiement à {tenant} indique désormais le {date} :",
    "Your promise to pay {tenant} by {date} was withdrawn:":
    "Votre promesse de paiement à {tenant} pour le {date} a été retirée :",
    "As promised, please pay {tenant} by tomorrow, {date}:":
    "Comme promis, merci de régler {tenant} d'ici demain, {date} :",
    "Invoice {number}: {amount}": "Facture {number} : {amount}",
    "Open your customer portal from the link you received to see or change your promises.":
    "Ouvrez votre espace client depuis le lien reçu pour consulter ou modifier vos promesses.",
}

CATALOGS: dict[str, dict[str, str]] = {"en": {}, "fr": FR}
MAIL_LOCALE = "en"
"""The finance team's mail is in English."""


def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale)
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def translator(locale: str) -> Callable[..., str]:
    """`t("Invoice {number} is void.", number="F-1")` in the language of `locale`."""
    catalog = CATALOGS.get(locale.split("_", 1)[0], {})

    def t(text: str, **values: Any) -> str:
        if text in catalog:
            result = catalog[text]
            return result.format(**values) if values else result
        return translate(locale, text, **values)

    return t


def day(value: dt.date, locale: str) -> str:
    """A date as people read it: `15 March 2026`, `15 mars 2026`."""
    return format_date(value, "long", locale=_babel_locale(locale))


def money(minor: int, currency: str, locale: str) -> str:
    exponent = get_currency_precision(currency)
    return format_currency(
        Decimal(minor).scaleb(-exponent), currency, locale=_babel_locale(locale)
    )


def amount_str(minor: int, currency: str) -> str:
    """A decimal string for the API (`"120.50"`)."""
    exponent = get_currency_precision(currency)
    return str(Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))
