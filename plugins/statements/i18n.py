"""The statements' fixed strings in English and French, chosen by the customer's language.

Keys are the English text; a string missing from a language shows in English. Amounts and
dates are written by babel for the customer's full locale (`fr_CA`, `en_GB`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FR: dict[str, str] = {
    "Statements": "Relevés",
    "Account statement": "Relevé de compte",
    "Outstanding balance statement": "Relevé des factures à payer",
    "Every invoice, payment and credit note of a period, with a running balance.":
    "Toutes les factures, tous les paiements et avoirs d'une période, avec le solde progressif.",
    "Every open invoice, with its ageing and the total due.":
    "Toutes les factures à payer, avec leur ancienneté et le total dû.",
    "From": "Du",
    "To": "Au",
    "Download PDF": "Télécharger le PDF",
    "Download CSV": "Télécharger le CSV",
    "Statement date:": "Date du relevé\u00a0:",
    "Period:": "Période\u00a0:",
    "{start} to {end}": "du {start} au {end}",
    "Customer:": "Client\u00a0:",
    "Account:": "Compte\u00a0:",
    "Date": "Date",
    "Type": "Type",
    "Reference": "Référence",
    "Debit": "Débit",
    "Credit": "Crédit",
    "Balance": "Solde",
    "Invoice": "Facture",
    "Payment": "Paiement",
    "Credit note": "Avoir",
    "Opening balance": "Solde d'ouverture",
    "Closing balance": "Solde de clôture",
    "No activity in this period.": "Aucune opération sur la période.",
    "continued": "suite",
    "Number": "Numéro",
    "Issue date": "Date d'émission",
    "Due date": "Échéance",
    "Total": "Total",
    "Amount due": "Montant dû",
    "Days overdue": "Jours de retard",
    "Ageing": "Ancienneté",
    "Current": "Non échu",
    "1–30 days": "1 à 30 jours",
    "31–60 days": "31 à 60 jours",
    "61–90 days": "61 à 90 jours",
    "Over 90 days": "Plus de 90 jours",
    "Total due": "Total dû",
    "No open invoices.": "Aucune facture à payer.",
    "How to pay": "Modalités de paiement",
    "Page {page} of {pages}": "Page {page} sur {pages}",
    "Currency": "Devise",
    "Currency: {currency}": "Devise\u00a0: {currency}",
    "Statement not available": "Relevé indisponible",
    "Back to invoices": "Retour aux factures",
    "from": "du",
    "to": "au",
    "{field}: expected a date as YYYY-MM-DD": "{field} : date attendue au format AAAA-MM-JJ",
    "The start date is after the end date.": "La date de début est postérieure à la date de fin.",
    "A statement covers at most {years} years.": "Un relevé couvre au plus {years} ans.",
    "This statement would have more than {limit} lines, the most a statement may have: "
    "choose a shorter period.":
    "Ce relevé compterait plus de {limit} lignes, le maximum pour un relevé : choisissez une "
    "période plus courte.",
}

CATALOGS: dict[str, dict[str, str]] = {"en": {}, "fr": FR}


def language(locale: str) -> str:
    lang = (locale or "en").split("_", 1)[0].split("-", 1)[0].lower()
    return lang if lang in CATALOGS else "en"


def translator(locale: str) -> Callable[..., str]:
    """`t("Page {page} of {pages}", page=1, pages=3)` in the customer's language."""
    catalog = CATALOGS[language(locale)]

    def t(text: str, **values: Any) -> str:
        result = catalog.get(text, text)
        return result.format(**values) if values else result

    return t
