"""DataContract-style XML for the sandbox: the same contact dicts the JSON answers carry.

Shape follows the XML sample on Vitec's documentation page (ArrayOfCrmContact, `i:nil` for null,
`d3p1:`-prefixed members for types from other namespaces). Like .NET's DataContractSerializer,
members of the base contract (CrmContact) come first and then the members of the derived type,
each group in ordinal alphabetical order, and a derived contact in a mixed list carries
`i:type="CrmPersonContact"` (or Company/DeceasedEstate).

The tree is built with ElementTree so every text is escaped. Namespace declarations are written as
literal attributes (rather than Clark notation) so that they sit exactly where the sample puts them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "CATEGORY_NAMESPACE",
    "CONTRACT_NAMES",
    "CRM_NAMESPACE",
    "MODELS_NAMESPACE",
    "XSI_NAMESPACE",
    "contact_to_xml",
    "contacts_to_xml",
    "element_name",
]

XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"
CRM_NAMESPACE = (
    "http://schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models.Contact.Crm"
)
MODELS_NAMESPACE = "http://schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models"
CATEGORY_NAMESPACE = (
    "http://schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models.Category"
)

CONTRACT_NAMES = {
    "Person": "CrmPersonContact",
    "Company": "CrmCompanyContact",
    "DeceasedEstate": "CrmDeceasedEstateContact",
}

# Members declared on the base contract CrmContact (everything else belongs to the derived type).
_BASE_MEMBERS = frozenset(
    {
        "id",
        "type",
        "customerId",
        "agentId",
        "address",
        "email",
        "advertisingEnabled",
        "note",
        "categories",
        "createdAt",
        "changedAt",
    }
)

# Nested members whose data contract lives in another namespace. Email and Categories come from
# the documentation sample; the telephone types are not documented, we assume the Email namespace.
_MEMBER_NAMESPACES = {
    "email": MODELS_NAMESPACE,
    "telephone": MODELS_NAMESPACE,
    "categories": CATEGORY_NAMESPACE,
}

_SPECIAL_NAMES = {"gdprApprovalDate": "GDPRApprovalDate"}


def element_name(key: str) -> str:
    """camelCase JSON key -> PascalCase DataContract member name."""
    return _SPECIAL_NAMES.get(key) or key[:1].upper() + key[1:]


def contacts_to_xml(
    contacts: Iterable[Mapping[str, Any]], *, contact_type: str | None = None
) -> bytes:
    """Serialise contacts like the `ArrayOfCrmContact` sample.

    With `contact_type` (the single-type endpoints) the list is `ArrayOfCrmPersonContact` etc.
    """
    contract = CONTRACT_NAMES.get(contact_type, "CrmContact") if contact_type else "CrmContact"
    root = ET.Element(f"ArrayOf{contract}", {"xmlns:i": XSI_NAMESPACE, "xmlns": CRM_NAMESPACE})
    for contact in contacts:
        attributes = {}
        derived = CONTRACT_NAMES.get(contact.get("type", ""))
        if contract == "CrmContact" and derived:
            attributes["i:type"] = derived
        element = ET.SubElement(root, contract, attributes)
        _members(element, contact)
    return ET.tostring(root, encoding="unicode").encode("utf-8")


def contact_to_xml(contact: Mapping[str, Any]) -> bytes:
    """Serialise one contact as the answer of the one-id route (`CRM/Contact/{c}/{id}`): the
    object itself as the root, a `CrmContact` carrying its derived contract in `i:type`, as
    DataContractSerializer writes an object of a derived type declared as its base."""
    attributes = {"xmlns:i": XSI_NAMESPACE, "xmlns": CRM_NAMESPACE}
    derived = CONTRACT_NAMES.get(contact.get("type", ""))
    if derived:
        attributes["i:type"] = derived
    root = ET.Element("CrmContact", attributes)
    _members(root, contact)
    return ET.tostring(root, encoding="unicode").encode("utf-8")


def _members(element: ET.Element, contact: Mapping[str, Any]) -> None:
    base = sorted((k for k in contact if k in _BASE_MEMBERS), key=element_name)
    own = sorted((k for k in contact if k not in _BASE_MEMBERS), key=element_name)
    for key in (*base, *own):
        _append(element, key, contact[key], prefix="")


def _append(parent: ET.Element, key: str, value: Any, *, prefix: str) -> None:
    name = prefix + element_name(key)
    if value is None:
        ET.SubElement(parent, name, {"i:nil": "true"})
        return
    namespace = _MEMBER_NAMESPACES.get(key)
    if isinstance(value, Mapping):
        attributes = {"xmlns:d3p1": namespace} if namespace else {}
        element = ET.SubElement(parent, name, attributes)
        child_prefix = "d3p1:" if namespace else prefix
        for child_key in sorted(value, key=element_name):
            _append(element, child_key, value[child_key], prefix=child_prefix)
    elif isinstance(value, list | tuple):
        attributes = {"xmlns:d3p1": namespace} if namespace else {}
        element = ET.SubElement(parent, name, attributes)
        item_prefix = "d3p1:" if namespace else prefix
        item_name = "Category" if key == "categories" else "Item"
        for item in value:
            item_element = ET.SubElement(element, item_prefix + item_name)
            for child_key in sorted(item, key=element_name):
                _append(item_element, child_key, item[child_key], prefix=item_prefix)
    else:
        ET.SubElement(parent, name).text = _scalar_text(value)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)
