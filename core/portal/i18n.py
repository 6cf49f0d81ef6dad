"""The portal's few fixed strings in English and French, and locale handling.

Amounts and dates are formatted by babel for the full locale (`fr_CA`, `en_GB`); the fixed
strings below are chosen by its language. A string missing from a language falls back to
English; keys are the English text.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from babel import Locale, UnknownLocaleError, negotiate_locale

DEFAULT_LOCALE = "en"

FR: dict[str, str] = {
    "Customer portal": "Espace client",
    "Skip to content": "Aller au contenu",
    "Invoices for {name}": "Factures de {name}",
    "Balance": "Solde",
    "Amount due": "Montant dû",
    "Overdue": "En retard",
    "Total due": "Total dû",
    "of which overdue": "dont en retard",
    "of which fees and charges": "dont frais et pénalités",
    "Fees and charges": "Frais et pénalités",
    "Amount due with fees and charges": "Montant dû avec frais et pénalités",
    "Description": "Libellé",
    "Nothing to pay: you are all set.": "Rien à payer : vous êtes à jour.",
    "Invoices": "Factures",
    "Invoice filter": "Filtre des factures",
    "Open": "À payer",
    "Paid": "Payées",
    "All": "Toutes",
    "Number": "Numéro",
    "Issue date": "Date d'émission",
    "Due date": "Échéance",
    "Total": "Total",
    "Status": "Statut",
    "open": "à payer",
    "paid": "payée",
    "No invoices here.": "Aucune facture ici.",
    "Previous page": "Page précédente",
    "Next page": "Page suivante",
    "First page": "Première page",
    "Pages": "Pages",
    "Invoice {number}": "Facture {number}",
    "Back to invoices": "Retour aux factures",
    "Currency": "Devise",
    "Download PDF": "Télécharger le PDF",
    "Payments and credits": "Paiements et avoirs",
    "No payment or credit applied yet.": "Aucun paiement ni avoir imputé pour l'instant.",
    "Date": "Date",
    "Reference": "Référence",
    "Amount": "Montant",
    "Payment": "Paiement",
    "Credit note": "Avoir",
    "Questions about your invoices?": "Des questions sur vos factures ?",
    "Email": "E-mail",
    "Phone": "Téléphone",
    "Page not found": "Page introuvable",
    "Preview with sample data: nothing here is saved and forms do nothing. It expires at "
    "{time}.":
    "Aperçu avec des données d'exemple : rien n'est enregistré et les formulaires sont "
    "inactifs. Il expire à {time}.",
    "This preview has expired": "Cet aperçu a expiré",
    "Previews are valid for 15 minutes: ask for a new one.":
    "Les aperçus sont valables 15 minutes : demandez-en un nouveau.",
    "This link is not valid. It may have been replaced by a newer one: use the most recent "
    "link you received, or ask your supplier for a new one.":
    "Ce lien n'est pas valide. Il a peut-être été remplacé par un lien plus récent : utilisez "
    "le dernier lien reçu ou demandez-en un nouveau à votre fournisseur.",
    "Portal not available": "Espace client indisponible",
    "The customer portal is not available for your account. Please contact your supplier.":
    "L'espace client n'est pas disponible pour votre compte. Veuillez contacter votre "
    "fournisseur.",
    "This link has expired": "Ce lien a expiré",
    "For your security, portal links are valid for a limited time.":
    "Pour votre sécurité, les liens de l'espace client ont une durée de validité limitée.",
    "Email me a new link": "M'envoyer un nouveau lien",
    "Check your inbox": "Consultez votre boîte de réception",
    "If we have an address on file, we sent a new link to it. It may take a few minutes to "
    "arrive.":
    "Si nous avons une adresse enregistrée, nous y avons envoyé un nouveau lien. Il peut "
    "mettre quelques minutes à arriver.",
    "Too many attempts": "Trop de tentatives",
    "Please wait a few minutes before trying again.":
    "Veuillez patienter quelques minutes avant de réessayer.",
    "Your new link to the {tenant} customer portal":
    "Votre nouveau lien vers l'espace client {tenant}",
    "Hello {name},": "Bonjour {name},",
    "Here is your new link to see your invoices with {tenant}:":
    "Voici votre nouveau lien pour consulter vos factures chez {tenant} :",
    "Open the portal": "Ouvrir l'espace client",
    "This link is personal: please do not forward it. It is valid until {date}.":
    "Ce lien est personnel : merci de ne pas le transférer. Il est valable jusqu'au {date}.",
    "You received this message because someone asked for a new link on the portal. If it "
    "was not you, you can ignore it.":
    "Vous recevez ce message car quelqu'un a demandé un nouveau lien sur l'espace client. "
    "Si ce n'était pas vous, ignorez-le.",
}

CATALOGS: dict[str, dict[str, str]] = {"en": {}, "fr": FR}
SUPPORTED = tuple(CATALOGS)


@functools.lru_cache(maxsize=256)
def normalize_locale(value: str | None) -> str:
    """A babel locale identifier (`fr-CA` -> `fr_CA`), or `en` for anything unknown."""
    if not value:
        return DEFAULT_LOCALE
    try:
        return str(Locale.parse(value.strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        return DEFAULT_LOCALE


def language(locale: str) -> str:
    lang = locale.split("_", 1)[0]
    return lang if lang in CATALOGS else DEFAULT_LOCALE


def translate(locale: str, text: str, **values: Any) -> str:
    result = CATALOGS[language(locale)].get(text, text)
    return result.format(**values) if values else result


def translator(locale: str) -> Callable[..., str]:
    """`t("Invoice {number}", number="F-1")` in the customer's language."""

    def t(text: str, **values: Any) -> str:
        return translate(locale, text, **values)

    return t


def from_accept_language(header: str | None) -> str:
    """The best supported language of an `Accept-Language` header (for pages shown before
    the customer is known)."""
    if not header:
        return DEFAULT_LOCALE
    wanted = []
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            wanted.append((quality, tag.replace("-", "_")))
    wanted.sort(key=lambda item: -item[0])
    found = negotiate_locale([tag for _, tag in wanted], list(SUPPORTED), sep="_")
    return found or DEFAULT_LOCALE
