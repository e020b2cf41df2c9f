"""One documented file per pair language, each with the cases CodeSearchNet's rules must
handle: a decorated or annotated function, nested and overloaded definitions, an ordinary
comment between a doc and its definition, unicode identifiers, and the skips (a test, a
constructor, a trivial accessor, an override without a doc of its own). Nested means
methods of classes in modules, namespaces and classes; a function defined inside another
function's body is not a pair (Python's ``key`` below), as in CodeSearchNet.

``PAIRS[lang]`` is (source, expected pairs as (name, docstring) in file order).
"""

from __future__ import annotations

import textwrap


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


PAIRS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "python": (_src('''
        import functools


        @functools.cache
        def fibonacci(n):
            """Return the n-th Fibonacci number, memoised.

            :param n: index, from 0.
            """
            if n < 2:
                return n
            return fibonacci(n - 1) + fibonacci(n - 2)


        def outer(items):
            """Sort the items by key, stably, in place."""
            def key(item):
                """Key of one item for the sort order."""
                name = item.name
                return name.lower()
            items.sort(key=key)
            return items


        class Größe:
            def __init__(self, wert):
                """Build a size from the given value."""
                self.wert = wert
                self.einheit = "m"

            def berechne_fläche(self, andere):
                """Compute the area spanned by two sizes.

                Args:
                    andere: the other side.
                """
                produkt = self.wert * andere.wert
                return produkt

            def get_wert(self):
                """Return the stored value of this size."""
                return self.wert

            def test_fläche(self):
                """Check that the area is computed right."""
                assert self.berechne_fläche(self) == 1
                return True
        '''), [("fibonacci", "Return the n-th Fibonacci number, memoised."),
               ("outer", "Sort the items by key, stably, in place."),
               ("berechne_fläche", "Compute the area spanned by two sizes.")]),
    "java": (_src("""
        package demo;

        public class Größe {
            /** Creates a size of the given value in metres. */
            public Größe(double wert) {
                this.wert = wert;
                this.einheit = "m";
            }

            /**
             * Adds another size to this one and returns the sum.
             *
             * @param other the size to add, see {@link Größe}
             * @return the sum
             */
            @Override
            @SuppressWarnings("unchecked")
            public Größe add(Größe other) {
                double sum = wert + other.wert;
                return new Größe(sum);
            }

            /** Adds a plain <b>number</b> of metres to this size. */
            // NOTE: kept for the old API.
            public Größe add(double metres) {
                double sum = wert + metres;
                return new Größe(sum);
            }

            /** {@inheritDoc} */
            @Override
            public String describe() {
                String s = "size";
                return s + wert;
            }

            /** Returns the value of this size in metres. */
            public double getWert() {
                return wert;
            }

            /** Checks the sum of two sizes for the tests. */
            public void testAdd() {
                Größe g = add(1.0);
                assert g != null;
            }
        }
        """), [("add", "Adds another size to this one and returns the sum."),
               ("add", "Adds a plain number of metres to this size.")]),
    "javascript": (_src("""
        /**
         * Formats a price with its currency symbol.
         * @param {number} amount the price
         */
        export function formatPrice(amount) {
          const rounded = amount.toFixed(2);
          return `$${rounded}`;
        }

        class Cart {
          /** Creates an empty cart for one customer. */
          constructor(customer) {
            this.customer = customer;
            this.items = [];
          }

          /** Adds one item and returns the new item count. */
          // TODO: merge equal items.
          add(item) {
            this.items.push(item);
            return this.items.length;
          }
        }

        /** Computes the größe of all the items in the list. */
        const größe = (items) => {
          let n = 0;
          for (const i of items) n += i.size;
          return n;
        };
        """), [("formatPrice", "Formats a price with its currency symbol."),
               ("add", "Adds one item and returns the new item count."),
               ("größe", "Computes the größe of all the items in the list.")]),
    "typescript": (_src("""
        /**
         * Parses a version string into its numeric parts.
         * @param text the version, e.g. `1.2.3`
         */
        export function parseVersion(text: string): number[] {
          const parts = text.split(".");
          return parts.map((p) => Number(p));
        }

        export class Registry<T> {
          /** Creates a registry that holds no entries. */
          constructor(private readonly items: Map<string, T> = new Map()) {
            this.count = 0;
          }

          /** Registers an entry under its {@link name} and returns it. */
          // eslint-disable-next-line
          @logged
          register(name: string, item: T): T {
            this.items.set(name, item);
            return item;
          }

          /** Looks up the entry registered under the given name. */
          lookup(name: string): T | undefined {
            const found = this.items.get(name);
            return found;
          }
        }

        /** Returns the größe of the longest string given. */
        function größe(items: string[]): number {
          let max = 0;
          for (const s of items) max = Math.max(max, s.length);
          return max;
        }
        """), [("parseVersion", "Parses a version string into its numeric parts."),
               ("register", "Registers an entry under its name and returns it."),
               ("lookup", "Looks up the entry registered under the given name."),
               ("größe", "Returns the größe of the longest string given.")]),
    "go": (_src("""
        package shapes

        import "math"

        // Circle is a round shape of a given radius.
        type Circle struct {
            R float64
        }

        // Area returns the area of the circle, in square units.
        //
        // It panics on a negative radius.
        func (c Circle) Area() float64 {
            if c.R < 0 {
                panic("negative")
            }
            return math.Pi * c.R * c.R
        }

        // Größe returns the size of a circle as its diameter.
        func Größe(c Circle) float64 {
            d := 2 * c.R
            return d
        }

        // TestArea checks the area of the unit circle.
        func TestArea(t *testing.T) {
            c := Circle{1}
            _ = c.Area()
        }

        func undocumented() int {
            x := 1
            return x
        }
        """), [("Area", "Area returns the area of the circle, in square units."),
               ("Größe", "Größe returns the size of a circle as its diameter.")]),
    "ruby": (_src("""
        module Geometry
          # A point in the plane with two coordinates.
          class Point
            # Creates a point from its two coordinates.
            def initialize(x, y)
              @x = x
              @y = y
            end

            # Returns the distance between this point and another.
            #
            # @param other [Point] the other point
            # @return [Float]
            def distance(other)
              dx = @x - other.x
              dy = @y - other.y
              Math.sqrt(dx * dx + dy * dy)
            end

            # Moves the point by the +dx+ and +dy+ offsets given.
            def self.moved(point, dx, dy)
              x = point.x + dx
              Point.new(x, point.y + dy)
            end
          end
        end

        # Computes the größe of the given list of points.
        def größe(points)
          n = points.size
          n * 2
        end
        """), [("distance", "Returns the distance between this point and another."),
               ("moved", "Moves the point by the dx and dy offsets given."),
               ("größe", "Computes the größe of the given list of points.")]),
    "php": (_src("""
        <?php
        namespace App;

        /**
         * Formats a user name for display on the page.
         *
         * @param string $name the raw name
         * @return string
         */
        function formatName(string $name): string {
            $trimmed = trim($name);
            return ucfirst($trimmed);
        }

        class Account {
            /** Creates an account for the given owner name. */
            public function __construct(string $owner) {
                $this->owner = $owner;
                $this->balance = 0;
            }

            /** Deposits an amount and returns the new balance. */
            // Amounts are in cents.
            #[Pure]
            public function deposit(int $amount): int {
                $this->balance += $amount;
                return $this->balance;
            }

            /** Returns the größe of this account's history. */
            public function größe(): int {
                $n = count($this->history);
                return $n;
            }
        }
        """), [("formatName", "Formats a user name for display on the page."),
               ("deposit", "Deposits an amount and returns the new balance."),
               ("größe", "Returns the größe of this account's history.")]),
    "csharp": (_src("""
        using System;

        namespace Demo {
            public class Größe {
                /// <summary>Creates a size from the given value.</summary>
                public Größe(double wert) {
                    Wert = wert;
                    Einheit = "m";
                }

                /// <summary>
                /// Adds two sizes, see <see cref="Größe"/>, and returns the sum.
                /// </summary>
                /// <param name="other">The other size.</param>
                [Pure]
                public Größe Add(Größe other) {
                    var sum = Wert + other.Wert;
                    return new Größe(sum);
                }

                /// <summary>Adds a plain number of metres to this size.</summary>
                // Kept for the old API.
                public Größe Add(double metres) {
                    var sum = Wert + metres;
                    return new Größe(sum);
                }

                /// <inheritdoc/>
                public override string ToText() {
                    var s = "size";
                    return s + Wert;
                }
            }
        }
        """), [("Add", "Adds two sizes, see Größe, and returns the sum."),
               ("Add", "Adds a plain number of metres to this size.")]),
    "rust": (_src('''
        use std::fmt;

        /// Returns the greatest common divisor of two numbers.
        ///
        /// # Examples
        /// ```
        /// assert_eq!(gcd(4, 6), 2);
        /// ```
        #[inline]
        #[must_use]
        pub fn gcd(a: u64, b: u64) -> u64 {
            if b == 0 { return a; }
            gcd(b, a % b)
        }

        pub struct Größe(f64);

        impl Größe {
            /// Creates a size from a value in metres.
            pub fn new(wert: f64) -> Self {
                let w = wert;
                Größe(w)
            }

            /// Returns the sum of this size and [`Größe`] other.
            // TODO: overflow checks.
            pub fn add(&self, other: &Größe) -> Größe {
                let sum = self.0 + other.0;
                Größe(sum)
            }
        }

        #[doc = "Doubles the size given to it, in place."]
        #[inline]
        pub fn verdopple(g: &mut Größe) {
            let w = g.0;
            g.0 = w * 2.0;
        }

        #[cfg(test)]
        mod tests {
            /// Checks the divisor of two small numbers.
            #[test]
            fn test_gcd() {
                let g = super::gcd(4, 6);
                assert_eq!(g, 2);
            }
        }
        '''), [("gcd", "Returns the greatest common divisor of two numbers."),
               ("add", "Returns the sum of this size and Größe other."),
               ("verdopple", "Doubles the size given to it, in place.")]),
    "c": (_src("""
        #include <stddef.h>

        /**
         * @brief Counts the vowels in a NUL-terminated string.
         * @param s the string
         * @return the count
         */
        size_t count_vowels(const char *s) {
            size_t n = 0;
            for (; *s; s++) n += is_vowel(*s);
            return n;
        }

        /* Returns the larger of the two integers given. */
        /* (Kept as a function for the debugger.) */
        static int max_int(int a, int b) {
            if (a > b) return a;
            return b;
        }

        // Returns the größe of the buffer in bytes, header included.
        size_t größe(const struct buffer *b) {
            size_t n = b->len;
            return n + sizeof *b;
        }
        """), [("count_vowels", "Counts the vowels in a NUL-terminated string."),
               ("max_int", "Returns the larger of the two integers given."),
               ("größe", "Returns the größe of the buffer in bytes, header included.")]),
    "cpp": (_src("""
        #include <vector>

        namespace geo {

        /// Returns the sum of all the values in the vector.
        template <typename T>
        T sum(const std::vector<T>& v) {
            T total{};
            for (const auto& x : v) total += x;
            return total;
        }

        class Polygon {
         public:
          /** Adds a vertex at the end and returns the vertex count. */
          [[nodiscard]] size_t add(Point p) {
            points_.push_back(p);
            return points_.size();
          }

          /** Adds a vertex given by its two coordinates. */
          size_t add(double x, double y) {
            Point p{x, y};
            return add(p);
          }
        };

        }  // namespace geo
        """), [("sum", "Returns the sum of all the values in the vector."),
               ("add", "Adds a vertex at the end and returns the vertex count."),
               ("add", "Adds a vertex given by its two coordinates.")]),
}
